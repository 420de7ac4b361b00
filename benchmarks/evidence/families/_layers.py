"""Model pieces several families share: recurrent layers and MLPs.

The recurrent cells are written from ``nn.Linear`` and elementwise ops, looping over time in Python, so a
functional call on one slice of stacked parameters runs under ``torch.func.vmap`` (``nn.GRU``/``nn.LSTM``
go through fused kernels vmap cannot batch over parameters). The input map runs on the whole sequence at
once and is split with ``unbind``: indexing one step at a time would make each step's backward write a
gradient the size of the whole sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn


class _Recurrent(nn.Module):
    """A recurrent layer: ``gates`` blocks of input-to-hidden and hidden-to-hidden maps."""

    gates: int

    def __init__(self, inputs: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.input_map = nn.Linear(inputs, self.gates * hidden)
        self.hidden_map = nn.Linear(hidden, self.gates * hidden)
        # torch's nn.GRU/nn.LSTM initialisation: every weight and bias uniform in ±1/sqrt(hidden). nn.Linear's
        # own would scale the input map by the input width, far too large for one- or two-channel series.
        bound = 1.0 / math.sqrt(hidden)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)


class GRU(_Recurrent):
    """A GRU layer (torch's equations): ``[batch, time, inputs]`` to every step's hidden state."""

    gates = 3

    def forward(self, x: Tensor) -> Tensor:
        h = x.new_zeros(x.shape[0], self.hidden)
        outputs = []
        for step in self.input_map(x).unbind(dim=1):
            x_r, x_z, x_n = step.chunk(3, dim=-1)
            h_r, h_z, h_n = self.hidden_map(h).chunk(3, dim=-1)
            reset = torch.sigmoid(x_r + h_r)
            update = torch.sigmoid(x_z + h_z)
            candidate = torch.tanh(x_n + reset * h_n)
            h = (1 - update) * candidate + update * h
            outputs.append(h)
        return torch.stack(outputs, dim=1)


class LSTM(_Recurrent):
    """An LSTM layer (torch's equations): ``[batch, time, inputs]`` to every step's hidden state."""

    gates = 4

    def forward(self, x: Tensor) -> Tensor:
        h = x.new_zeros(x.shape[0], self.hidden)
        c = h
        outputs = []
        for step in self.input_map(x).unbind(dim=1):
            i, f, g, o = (step + self.hidden_map(h)).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1)


def mlp(widths: Sequence[int]) -> nn.Sequential:
    """Linear layers through ``widths`` (input first, output last), a ReLU between each two and none after
    the last: the output is a logit, a regression value or a reconstruction. Two widths: a linear model."""
    layers: list[nn.Module] = []
    for width_in, width_out in pairwise(widths):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])
