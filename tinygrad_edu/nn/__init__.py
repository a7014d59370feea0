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
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    StateDictError,
    Tanh,
)

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "Flatten",
    "Linear",
    "LoadResult",
    "LogSoftmax",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StateDictError",
    "Tanh",
    "functional",
    "init",
    "load",
    "save",
]
