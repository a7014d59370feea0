"""The argument check every functional module shares."""

from __future__ import annotations

from ...tensor import Tensor


def _check_tensor(op: str, name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}; wrap it: "
                        f"Tensor({name}) (with requires_grad=True if it needs a gradient)")
