"""Neural-network building blocks: `Module` and `Parameter` (`modules`), layers (`layers`),
containers (`containers`), initialisers (`init`), losses and activations (`functional`), and
checkpoints (`save`, `load`)."""

from . import functional, init
from .checkpoint import Checkpoint, CheckpointError, load, save
from .containers import ModuleDict, ModuleList, Sequential
from .layers import Flatten, Linear, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .modules import LoadResult, Module, Parameter, StateDictError, UnregisteredWarning

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "Flatten",
    "Linear",
    "LoadResult",
    "LogSoftmax",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StateDictError",
    "Tanh",
    "UnregisteredWarning",
    "functional",
    "init",
    "load",
    "save",
]
