"""Neural-network building blocks: `functional` (losses, activations)."""

from . import functional

__all__ = ["functional"]
