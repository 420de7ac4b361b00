"""Python client of the optadvisor service, and a PyTorch helper that captures gradients for it."""

from optadvisor.client.errors import OptadvisorError
from optadvisor.client.http import OptadvisorClient

__all__ = ["OptadvisorClient", "OptadvisorError"]
