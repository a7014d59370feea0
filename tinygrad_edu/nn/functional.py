"""Losses and activations as functions of Tensors, with PyTorch's names and reductions."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..errors import DtypeError, ShapeError, class_index_error
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _as_array(target) -> np.ndarray:
    return target.data if isinstance(target, Tensor) else np.asarray(target)


def _check_tensor(op: str, name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}; wrap it: "
                        f"Tensor({name}) (with requires_grad=True if it needs a gradient)")


def _check_scores(op: str, scores: Tensor, target, name: str) -> None:
    """Scores have a class dim; the target is a constant (no gradient flows to it)."""
    _check_tensor(op, name, scores)
    if scores.ndim == 0:
        raise ShapeError(f"{op}: got 0-d scores; pass one score per class, shape (C,) for one "
                         "sample or (N, C) for a batch")
    if isinstance(target, Tensor) and target.requires_grad:
        raise ValueError(f"{op}: the target (shape {target.shape}) requires grad, but the loss "
                         "treats it as a constant; pass target.detach(), or write the loss out "
                         "(for example -(target * logits.log_softmax(1)).sum(1).mean()) to "
                         "differentiate with respect to the target")


def _check_class_target(op: str, scores: Tensor, target: np.ndarray) -> None:
    """Class indices: one label per sample, each in [0, C)."""
    class_dim = 1 if scores.ndim > 1 else 0
    expected = scores.shape[:class_dim] + scores.shape[class_dim + 1:]
    if target.shape != expected:
        hint = "pass one integer label per sample"
        if target.shape == scores.shape:
            hint = (f"integer targets of the scores' shape look like one-hot rows: pass their "
                    f"labels (target.argmax({class_dim})) or, as probabilities, floats "
                    "(target.astype(np.float32))")
        raise ShapeError(f"{op}: scores of shape {scores.shape} need class indices of shape "
                         f"{expected}, got {target.shape}; {hint}")
    if target.size and not scores.shape[class_dim]:
        raise ValueError(f"{op}: scores of shape {scores.shape} have no classes along dim "
                         f"{class_dim}, so no class index is valid; got labels of shape "
                         f"{target.shape}")
    # A negative label would silently pick a class from the end. A label of C or more fails
    # the op's indexing, and the op words that error the same way (ops._ClassIndexLoss), so
    # every step pays for one reduction here, not two.
    if target.size and np.minimum.reduce(target, axis=None) < 0:
        raise class_index_error(op, scores.shape, target)


def cross_entropy(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """Cross-entropy of softmax(logits) against `target`, classes along dim 1.

    Parameters
    ----------
    logits : Tensor
        Unnormalised scores, shape (N, C) (or (C,) for one sample, or (N, C, d1, ...)).
    target : Tensor or array_like
        Class indices (integers, shape (N,)) or class probabilities (floats, logits' shape).
    reduction : {'mean', 'sum', 'none'}
        Average or add the per-sample losses, or return them.

    Returns
    -------
    Tensor
        The loss; one fused op whose backward is `softmax(logits) - target` per sample.
        Integer logits are computed in floats. The mean over no samples is NaN, as in
        PyTorch; over no classes (probability targets of shape (N, 0)) each loss is an empty
        sum, 0, and so is their mean (PyTorch gives NaN for that mean).

    Raises
    ------
    TypeError
        `logits` is not a Tensor, or the target is neither integers nor floats (DtypeError).
    ShapeError
        The target's shape fits neither class indices nor probabilities.
    ValueError
        A class index outside [0, C), or a misspelt `reduction`.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> logits = Tensor(np.zeros((2, 4)), requires_grad=True)
    >>> round(cross_entropy(logits, [1, 3]).item(), 4)    # ln 4
    1.3863
    """
    _check_reduction("cross_entropy", reduction)
    _check_scores("cross_entropy", logits, target, "logits")
    target = _as_array(target)
    if target.dtype.kind in "iu":
        _check_class_target("cross_entropy", logits, target)
    elif target.dtype.kind == "f":
        if target.shape != logits.shape:
            raise ShapeError(f"cross_entropy: probability targets must have the logits' shape "
                             f"{logits.shape}, got {target.shape}; for class indices pass "
                             "integers (target.astype(np.int64))")
    else:
        raise DtypeError(f"cross_entropy: target must hold integer class indices or float "
                         f"probabilities, got dtype {target.dtype}")
    return ops.CrossEntropy.apply(logits, target=target, reduction=reduction)


def nll_loss(log_probs: Tensor, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices, given log-probabilities along dim 1.

    `cross_entropy(x, t)` equals `nll_loss(log_softmax(x, dim=1), t)`. Each sample's entry is
    picked by its index (memory grows with N, not with C); the mean over no samples is NaN.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> nll_loss(Tensor([[-1.0, -2.0], [-3.0, -0.5]]), [0, 1]).item()
    0.75
    """
    _check_reduction("nll_loss", reduction)
    _check_scores("nll_loss", log_probs, target, "log_probs")
    target = _as_array(target)
    if target.dtype.kind not in "iu":
        raise DtypeError(f"nll_loss: target must hold integer class indices, got dtype "
                         f"{target.dtype}")
    _check_class_target("nll_loss", log_probs, target)
    return ops.NLLLoss.apply(log_probs, target=target, reduction=reduction)


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: the mean (or sum) of (input - target)^2 over all elements.

    Shapes must match (no broadcasting: (N,) against (N, 1) would silently give an (N, N)
    error table), and at least one side must be real floats: integer differences wrap around.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> mse_loss(Tensor([1.0, 2.0]), Tensor([0.0, 0.0])).item()
    2.5
    """
    _check_reduction("mse_loss", reduction)
    _check_tensor("mse_loss", "input", input)
    target = target if isinstance(target, Tensor) else Tensor(target)  # a list: float32
    if input.shape != target.shape:
        raise ShapeError(f"mse_loss: input {input.shape} and target {target.shape} must have "
                         "the same shape (no silent broadcasting in a loss)")
    if np.result_type(input.dtype, target.dtype).kind != "f":
        raise DtypeError(f"mse_loss: input ({input.dtype}) and target ({target.dtype}) are not "
                         "floats; integer differences wrap around and complex squares are not "
                         "|error|^2; pass real floats, for example input.float()")
    squared = (input - target) ** 2
    if reduction == "none":
        return squared
    return squared.mean() if reduction == "mean" else squared.sum()


def one_hot(labels, num_classes: int | None = None, dtype=np.float32) -> Tensor:
    """Rows of zeros with a one at each label: shape labels.shape + (num_classes,).

    `num_classes` None or -1 (PyTorch's default) means one more than the largest label.
    Memory is the output's: no num_classes x num_classes table.

    Examples
    --------
    >>> one_hot([0, 2], num_classes=3)
    Tensor([[1., 0., 0.],
            [0., 0., 1.]], dtype=float32)
    """
    labels = _as_array(labels)
    if labels.dtype.kind not in "iu":
        raise DtypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    if isinstance(num_classes, bool) or not (
            num_classes is None or isinstance(num_classes, (int, np.integer))):
        raise TypeError(f"one_hot: num_classes must be an int >= 0 (or -1 or None to infer "
                        f"it), got {num_classes!r}")
    if num_classes is not None and num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be an int >= 0 (or -1 or None to infer "
                         f"it), got {num_classes}")
    low, high = (int(labels.min()), int(labels.max())) if labels.size else (0, -1)
    if low < 0:
        raise ValueError(f"one_hot: labels must be >= 0, got {low}")
    if num_classes is None or num_classes == -1:
        num_classes = high + 1
    elif num_classes == 0 and labels.size:
        raise ValueError(f"one_hot: num_classes=0 leaves no valid label, got {labels.size} "
                         "labels")
    elif high >= num_classes:
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes - 1}], got values in "
                         f"[{low}, {high}]")
    out = np.zeros(labels.shape + (int(num_classes),), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return Tensor(out)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`; integers are computed in floats, an empty dim is empty."""
    _check_tensor("softmax", "x", x)
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - log(sum(exp(x))) along `dim`, stable for large values (ints, empty dims: as softmax)."""
    _check_tensor("log_softmax", "x", x)
    return x.log_softmax(dim)


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """tanh(x)."""
    return x.tanh()
