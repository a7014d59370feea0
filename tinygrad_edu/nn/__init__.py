"""Neural-network building blocks: layers (`modules`), initialisers (`init`), losses and
activations (`functional`), and checkpoints (`save`, `load`)."""

from . import functional, init
from .checkpoint import Checkpoint, CheckpointError, load, save
from .modules import (
    Flatten,
    Linear,
    LoadResult,
    LogSoftmax,
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    StateDictError,
    Tanh,
    UnregisteredWarning,
)

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
