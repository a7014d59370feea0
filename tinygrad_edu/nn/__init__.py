"""Neural-network building blocks: `Module` and `Parameter` (`modules`), layers (`layers`),
containers (`containers`), convolutional layers, normalisation, dropout and more activations
(`conv`), initialisers (`init`), losses and activations (`functional`), and
checkpoints (`save`, `load`)."""

from . import functional, init
from .checkpoint import Checkpoint, CheckpointError, load, save
from .containers import ModuleDict, ModuleList, Sequential
from .conv import (
    ELU,
    GELU,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    LeakyReLU,
    MaxPool2d,
    MaxUnpool2d,
    SiLU,
    Softplus,
)
from .layers import Flatten, Linear, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .modules import LoadResult, Module, Parameter, StateDictError, UnregisteredWarning

__all__ = [
    "ELU",
    "GELU",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Checkpoint",
    "CheckpointError",
    "Conv2d",
    "Dropout",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "LoadResult",
    "LogSoftmax",
    "MaxPool2d",
    "MaxUnpool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "StateDictError",
    "Tanh",
    "UnregisteredWarning",
    "functional",
    "init",
    "load",
    "save",
]
