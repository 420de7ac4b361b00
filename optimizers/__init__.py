"""Built-in optimizers faithful to PyTorch, Keras 3 and Optax, with introspection and a catalogue."""

from optimizers import catalogue
from optimizers.adadelta import Adadelta
from optimizers.adagrad import Adagrad
from optimizers.adam import Adam, AdamW
from optimizers.base import AdaptiveOptimizer
from optimizers.factory import FRAMEWORKS, METHODS, create, defaults
from optimizers.rmsprop import RMSprop
from optimizers.sgd import SGD

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
