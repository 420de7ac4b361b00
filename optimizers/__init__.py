"""Built-in optimizers faithful to PyTorch, Keras 3 and Optax, with introspection and a catalogue."""

from optadvisor.optimizers import catalogue
from optadvisor.optimizers.adadelta import Adadelta
from optadvisor.optimizers.adagrad import Adagrad
from optadvisor.optimizers.adam import Adam, AdamW
from optadvisor.optimizers.base import AdaptiveOptimizer
from optadvisor.optimizers.catalogue.names import FRAMEWORKS, METHODS
from optadvisor.optimizers.factory import create, defaults
from optadvisor.optimizers.rmsprop import RMSprop
from optadvisor.optimizers.sgd import SGD

__all__ = [
    "FRAMEWORKS",
    "METHODS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "AdaptiveOptimizer",
    "RMSprop",
    "catalogue",
    "create",
    "defaults",
]
