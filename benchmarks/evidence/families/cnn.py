"""Small convolutional classifiers: 3×3 convolutions, ReLU, downsampling and a linear head (no BatchNorm).

Two image sets: scikit-learn's 8×8 handwritten digits, and generated 12×12 images of one shape among six
(a horizontal, vertical, diagonal or anti-diagonal bar, a hollow square, a plus) of random size, place and
brightness, drawn over Gaussian pixel noise with a short stray stroke as clutter. The network is a stack
of conv-ReLU layers; the first two each halve the side, by max-pooling or by a stride-2 convolution, any
further ones work on the quarter-side map, and a linear layer reads the final feature map. Images are
standardised with the training split's pixel mean and deviation. The metric is the held-out
cross-entropy; a fraction of the labels in both splits is replaced by a random class, which gives it a
floor well above zero (clean digits are nearly separable). Variants change the image set, the channels,
the depth, the downsampling, the pixel noise, the label noise, the batch size and the run length.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.evidence.families._data import Split, Supervised, flip_labels, partition, standardise
from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "cnn"

Images = Literal["digits", "shapes"]
Downsample = Literal["pool", "stride"]
SHAPES_SIDE = 12
SHAPES_COUNT = 6000
SHAPE_CLASSES = 6
HOLDOUT_CHUNK = 64


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x.reshape(-1, 1, 8, 8).astype(np.float32), y.astype(np.int64)


def _shape_pixels(label: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of one shape of class ``label``, placed at random inside the image."""
    if label < 4:  # a bar: horizontal, vertical, diagonal, anti-diagonal
        length = int(rng.integers(4, 8))
        steps = np.arange(length)
        rows, cols = [
            (np.zeros(length, int), steps),
            (steps, np.zeros(length, int)),
            (steps, steps),
            (steps, length - 1 - steps),
        ][label]
    elif label == 4:  # a hollow square
        side = int(rng.integers(3, 6))
        ring = np.array(
            [(r, c) for r in range(side) for c in range(side) if r in {0, side - 1} or c in {0, side - 1}]
        )
        rows, cols = ring[:, 0], ring[:, 1]
    else:  # a plus
        arm = int(rng.integers(1, 3))
        steps = np.arange(-arm, arm + 1)
        rows = np.concatenate([steps, np.zeros(len(steps), int)]) + arm
        cols = np.concatenate([np.zeros(len(steps), int), steps]) + arm
    top = rng.integers(0, SHAPES_SIDE - rows.max())
    left = rng.integers(0, SHAPES_SIDE - cols.max())
    return rows + top, cols + left


@cache
def _shapes(noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seed's shape images and labels (kept: a grid run and its timing read them more than once)."""
    rng = np.random.default_rng([seed, zlib.crc32(b"shapes")])
    labels = rng.integers(0, SHAPE_CLASSES, SHAPES_COUNT)
    images = rng.normal(0.0, noise, (SHAPES_COUNT, 1, SHAPES_SIDE, SHAPES_SIDE)).astype(np.float32)
    for image, label in zip(images, labels, strict=True):
        rows, cols = _shape_pixels(int(label), rng)
        image[0, rows, cols] += rng.uniform(0.8, 1.4)
        # Clutter: a fainter stray two-pixel stroke, which a short bar's end resembles.
        row, col = rng.integers(0, SHAPES_SIDE - 1, 2)
        down, right = [(0, 1), (1, 0), (1, 1)][rng.integers(0, 3)]
        image[0, [row, row + down], [col, col + right]] += rng.uniform(0.3, 0.8)
    return images, labels


class ConvNet(nn.Module):
    """Two downsampling stages (conv 1→c then c→2c, each halving the side by a stride-2 convolution or a
    2×2 max-pool after it), ``depth - 2`` more 2c→2c convolutions on the quarter-side map, a linear head.

    The extra depth sits at the lowest resolution because under vmap a convolution becomes a grouped one
    over every configuration, whose cost on the CPU grows with the pixels it visits.
    """

    def __init__(self, side: int, classes: int, channels: int, depth: int, downsample: Downsample) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width_in, width in ((1, channels), (channels, 2 * channels)):
            if downsample == "stride":
                layers += [nn.Conv2d(width_in, width, 3, stride=2, padding=1), nn.ReLU()]
            else:
                layers += [nn.Conv2d(width_in, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(2 * channels, 2 * channels, 3, padding=1), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * channels * (side // 4) ** 2, classes)

    def forward(self, images: Tensor) -> Tensor:
        logits: Tensor = self.head(self.features(images).flatten(start_dim=-3))
        return logits


@dataclass(frozen=True)
class SmallCNN(Supervised):
    images: Images
    channels: int
    depth: int
    downsample: Downsample
    pixel_noise: float  # the generated shapes' background noise (digits: unused, 0)
    label_noise: float
    batch_size: int
    steps: int

    @property
    def spec(self) -> TaskSpec:
        noise = f"p{self.pixel_noise:g}-" if self.images == "shapes" else ""
        return TaskSpec(
            family=FAMILY,
            name=(
                f"{FAMILY}/{self.images}-{noise}n{self.label_noise:g}-c{self.channels}d{self.depth}"
                f"-{self.downsample}-b{self.batch_size}-s{self.steps}"
            ),
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out cross-entropy",
            profile={"model_family": "cnn", "training_steps": self.steps},
            variant={
                "images": self.images,
                "channels": self.channels,
                "depth": self.depth,
                "downsample": self.downsample,
                "pixel_noise": self.pixel_noise,
                "label_noise": self.label_noise,
            },
        )

    @property
    def side(self) -> int:
        return 8 if self.images == "digits" else SHAPES_SIDE

    @property
    def classes(self) -> int:
        return 10 if self.images == "digits" else SHAPE_CLASSES

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return ConvNet(self.side, self.classes, self.channels, self.depth, self.downsample)

    def data(self, seed: int) -> Split:
        rng = np.random.default_rng([seed, zlib.crc32(FAMILY.encode())])
        x, y = _digits() if self.images == "digits" else _shapes(self.pixel_noise, seed)
        y = flip_labels(y, self.classes, self.label_noise, rng)
        # Shapes are plentiful: a sixth of them (1000) is held out, against a quarter of the digits (450).
        train, test = partition(len(y), rng, 0.75 if self.images == "digits" else 5 / 6)
        train_x, test_x = standardise(x[train], x[test], axis=None)
        return Split.of(
            {"x": train_x, "y": y[train]}, {"x": test_x, "y": y[test]}, rng, self.steps, self.batch_size
        )

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        # In chunks: under vmap every configuration's copy of a chunk's feature maps is live at once, and a
        # chunk's stay in cache where the whole held-out set's would not (a third of the time on digits).
        logits = torch.cat([forward(chunk) for chunk in torch.split(holdout["x"], HOLDOUT_CHUNK)])
        return functional.cross_entropy(logits, holdout["y"])


def tasks() -> list[SmallCNN]:
    return [
        SmallCNN("digits", 8, 2, "stride", 0.0, 0.1, 32, 500),
        SmallCNN("digits", 4, 2, "pool", 0.0, 0.2, 8, 500),
        SmallCNN("shapes", 6, 3, "stride", 0.3, 0.05, 8, 300),
        SmallCNN("shapes", 4, 2, "stride", 0.4, 0.1, 16, 500),
        SmallCNN("digits", 8, 4, "stride", 0.0, 0.1, 16, 400),
    ]
