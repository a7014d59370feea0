"""Exception types, and the helpers that word their messages.

Every error names the op, the shapes or dtypes involved, and what would fix it.
"""

from __future__ import annotations

import os
import sys
import warnings


class TinygradEduError(Exception):
    """Base class of the errors tinygrad_edu raises on misuse."""


class ShapeError(TinygradEduError, ValueError):
    """Operand shapes do not fit the op (broadcasting, matmul, reshape, gradient shape)."""


class DimError(TinygradEduError, IndexError):
    """A `dim` argument is out of range for the tensor."""


class DtypeError(TinygradEduError, TypeError):
    """A dtype does not fit the request (for example `requires_grad` on an integer tensor)."""


class GraphError(TinygradEduError, RuntimeError):
    """The graph cannot be walked: freed by an earlier backward, or nothing requires grad."""


class AnomalyError(TinygradEduError, FloatingPointError):
    """`detect_anomaly()` saw a NaN or Inf produced by an op."""


class GraphGrowthWarning(RuntimeWarning):
    """A graph keeps growing from one backward pass to the next."""


def fmt_shapes(shapes) -> str:
    """`(2, 3) and (4,)`, or `(2, 3), (4,) and (5,)`."""
    parts = [str(tuple(s)) for s in shapes]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def broadcast_error(op: str, shapes) -> ShapeError:
    return ShapeError(
        f"{op}: shapes {fmt_shapes(shapes)} do not broadcast: aligned from the right, each "
        "pair of dimensions must be equal or one of them 1; reshape an operand "
        "(for example x.reshape(-1, 1) or x.unsqueeze(0)) so that they line up"
    )


def dim_error(op: str, dim, shape, valid_ndim: int | None = None) -> DimError:
    """`valid_ndim`: how many dims `dim` may name, when not the tensor's own (unsqueeze: +1)."""
    ndim = len(shape)
    n = ndim if valid_ndim is None else valid_ndim
    valid = f"[{-n}, {n - 1}]" if n else "none (a 0-d tensor has no dims; use dim=None)"
    return DimError(
        f"{op}: dim {dim} is out of range for a tensor of shape {tuple(shape)} "
        f"(ndim {ndim}); valid dims: {valid}"
    )


_warned: set[str] = set()


def class_index_error(op: str, scores_shape, target) -> ValueError:
    """Class indices outside [0, C) for scores with C classes along dim 1 (or the only dim)."""
    class_dim = 1 if len(scores_shape) > 1 else 0
    n_classes = scores_shape[class_dim]
    return ValueError(f"{op}: scores of shape {tuple(scores_shape)} have {n_classes} classes "
                      f"along dim {class_dim}, so class indices must lie in [0, {n_classes - 1}]; "
                      f"got values in [{target.min()}, {target.max()}]")


def warn_once(key: str, message: str, category=RuntimeWarning) -> None:
    """Warn the first time `key` is seen in this process."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, category, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The stacklevel of the first caller outside tinygrad_edu: a warning points at user code."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(2), 2  # warn_once's caller is at stacklevel 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
