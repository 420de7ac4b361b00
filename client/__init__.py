"""Python client of the optadvisor service, and a PyTorch helper that captures gradients for it."""

from client.errors import OptadvisorError
from client.http import OptadvisorClient

__all__ = ["OptadvisorClient", "OptadvisorError"]
