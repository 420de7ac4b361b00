"""torch.optim's own classes: the reference the project's optimizers are measured and checked against.

Built from the optimizers catalogue's torch constructors, so the method names are the catalogue's.
"""

import torch

from optadvisor import optimizers
from optadvisor.optimizers import catalogue


def _torch_class(method: str) -> type[torch.optim.Optimizer]:
    path = catalogue.entry(method).constructors.get("torch")
    if path is None:
        raise ValueError(f"the catalogue has no torch constructor for {method}")
    found: type[torch.optim.Optimizer] = getattr(torch.optim, path.rsplit(".", 1)[1])
    return found


TORCH_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    method: _torch_class(method) for method in optimizers.METHODS
}
