"""Losses with PyTorch's names, signatures and reductions: cross-entropy (class weights,
ignore_index, label smoothing), NLL, MSE, the binary cross-entropies, and one_hot."""

from __future__ import annotations

import numpy as np

from ... import ops
from ...errors import DtypeError, ShapeError, class_index_error
from ...ops.losses import _target_index
from ...tensor import Tensor
from ._checks import _check_tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _as_array(target) -> np.ndarray:
    return target.data if isinstance(target, Tensor) else np.asarray(target)

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


def _check_class_target(op: str, scores: Tensor, target: np.ndarray,
                        negatives_checked: bool = False) -> None:
    """Class indices: one label per sample, each in [0, C) (`negatives_checked`: the caller
    has already found no label below 0)."""
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
    if not negatives_checked and target.size and np.minimum.reduce(target, axis=None) < 0:
        raise class_index_error(op, scores.shape, target)


def cross_entropy(logits: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of softmax(logits) against `target`, classes along dim 1.

    Parameters
    ----------
    logits : Tensor
        Unnormalised scores, shape (N, C) (or (C,) for one sample, or (N, C, d1, ...)).
    target : Tensor or array_like
        Class indices (integers, shape (N,)) or class probabilities (floats, logits' shape).
    weight : array_like, optional
        One weight per class, shape (C,): sample n's loss is scaled by weight[target_n] and
        the mean divides by the sum of those weights, as PyTorch (probability targets:
        sum_c weight_c y_nc log p_nc, and the mean divides by N).
    ignore_index : int
        Samples with this label add nothing and do not count in the mean (-100 by default,
        as PyTorch; all ignored: the mean is NaN and its gradient 0). Class indices only.
    reduction : {'mean', 'sum', 'none'}
        Average or add the per-sample losses, or return them.
    label_smoothing : float
        In [0, 1]: the target becomes (1 - label_smoothing) y + label_smoothing / C.

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
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got "
                         f"{label_smoothing}")
    target = _as_array(target)
    class_dim = 1 if logits.ndim > 1 else 0
    if weight is not None or label_smoothing:
        dtype = logits.dtype if logits.dtype.kind == "f" else np.dtype(np.float64)
        weight = _class_weight("cross_entropy", weight, logits.shape[class_dim], dtype)
    if target.dtype.kind in "iu":
        # one reduction, as before: a negative label is ignore_index's or an error; a
        # non-negative ignore_index (rare) costs a search of its own
        negative = target.size and np.minimum.reduce(target, axis=None) < 0
        if weight is not None or label_smoothing or negative or _labelled(target, ignore_index):
            _check_class_target("cross_entropy", logits, np.where(target == ignore_index, 0,
                                                                  target))
            return _cross_entropy_general(logits, target, weight, ignore_index, reduction,
                                          label_smoothing)
        _check_class_target("cross_entropy", logits, target, negatives_checked=True)
    elif target.dtype.kind == "f":
        if target.shape != logits.shape:
            raise ShapeError(f"cross_entropy: probability targets must have the logits' shape "
                             f"{logits.shape}, got {target.shape}; for class indices pass "
                             "integers (target.astype(np.int64))")
    else:
        raise DtypeError(f"cross_entropy: target must hold integer class indices or float "
                         f"probabilities, got dtype {target.dtype}")
    if weight is not None or label_smoothing:               # probabilities, reweighted
        classes = logits.shape[class_dim]
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / max(classes, 1)
        if weight is not None:
            target = target * weight.reshape((classes,) + (1,) * (logits.ndim - 1 - class_dim))
        return ops.CrossEntropy.apply(logits, target=target.astype(dtype), reduction=reduction)
    return ops.CrossEntropy.apply(logits, target=target, reduction=reduction)


def _labelled(target: np.ndarray, ignore_index: int) -> bool:
    """Some sample carries a non-negative ignore_index (a negative one is found by the search
    for negative labels): the fused op knows no ignored samples, so the general path runs."""
    return ignore_index >= 0 and bool((target == ignore_index).any())


def _cross_entropy_general(logits, target, weight, ignore_index, reduction, smoothing):
    """Class indices with class weights, ignored samples or label smoothing, as PyTorch:
    (1 - eps) nll(log_softmax(x), y; weight) + eps / C * sum_c -w_c log_softmax(x)_c, the
    smoothing term's mean divided by the same sum of weights as the nll term's."""
    class_dim = 1 if logits.ndim > 1 else 0
    log_probs = logits.log_softmax(class_dim) if logits.dtype.kind == "f" \
        else logits.double().log_softmax(class_dim)
    nll = _weighted_nll("cross_entropy", log_probs, target, weight, ignore_index, reduction)
    if not smoothing:
        return nll
    keep = target != ignore_index
    classes = logits.shape[class_dim]
    weighted = log_probs if weight is None else log_probs * Tensor(
        weight.reshape((classes,) + (1,) * (logits.ndim - 1 - class_dim)))
    smooth = -(weighted.sum(class_dim) * Tensor(keep.astype(log_probs.dtype)))
    if reduction == "mean":
        safe = np.where(keep, target, 0)
        total = keep.sum() if weight is None else np.where(keep, weight[safe], 0).sum()
        smooth = _mean_of(smooth.sum(), total, keep.any())
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - smoothing) + smooth * (smoothing / classes)


def nll_loss(log_probs: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices, given log-probabilities along dim 1.

    `cross_entropy(x, t)` equals `nll_loss(log_softmax(x, dim=1), t)`. Each sample's entry is
    picked by its index (memory grows with N, not with C); the mean over no samples is NaN.
    With a class `weight` (shape (C,)) sample n's loss is -weight[t_n] log_probs[n, t_n] and
    the mean is sum_n w[t_n] l_n / sum_n w[t_n], as PyTorch; samples labelled `ignore_index`
    (-100 by default) add nothing and do not count (all ignored: the mean is NaN, and its
    gradient 0, as PyTorch's).

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
    negative = target.size and np.minimum.reduce(target, axis=None) < 0
    if weight is not None or negative or _labelled(target, ignore_index):
        _check_class_target("nll_loss", log_probs, np.where(target == ignore_index, 0, target))
        dtype = log_probs.dtype if log_probs.dtype.kind == "f" else np.dtype(np.float64)
        weight = _class_weight("nll_loss", weight, log_probs.shape[1 if log_probs.ndim > 1
                                                                   else 0], dtype)
        return _weighted_nll("nll_loss", log_probs, target, weight, ignore_index, reduction)
    _check_class_target("nll_loss", log_probs, target, negatives_checked=True)
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


# ---- losses with weights, ignored samples and label smoothing ------------------------------

def _class_weight(op: str, weight, classes: int, dtype) -> np.ndarray | None:
    if weight is None:
        return None
    if isinstance(weight, str):
        raise TypeError(f"{op}: weight must hold one weight per class, got the string "
                        f"{weight!r}; pass reduction={weight!r} by name")
    if isinstance(weight, Tensor) and weight.requires_grad:
        raise ValueError(f"{op}: the class weight requires grad, but the loss treats it as a "
                         "constant; pass weight.detach()")
    w = _as_array(weight)
    if w.shape != (classes,):
        raise ShapeError(f"{op}: weight must have one entry per class, shape ({classes},), "
                         f"got {w.shape}")
    return w.astype(dtype)


def _check_labels(op: str, scores: Tensor, target: np.ndarray, ignore_index: int) -> np.ndarray:
    """Check class indices; returns the mask of samples that count (label != ignore_index)."""
    class_dim = 1 if scores.ndim > 1 else 0
    keep = target != ignore_index
    classes = scores.shape[class_dim]
    bad = keep & ((target < 0) | (target >= classes))
    if bad.any():
        raise class_index_error(op, scores.shape, target[bad])
    return keep


def _weighted_nll(op: str, log_probs: Tensor, target: np.ndarray, weight, ignore_index: int,
                  reduction: str) -> Tensor:
    """-w[y_n] log_probs[n, y_n] (0 for an ignored sample); the mean divides by sum(w[y_n])."""
    class_dim = 1 if log_probs.ndim > 1 else 0
    keep = _check_labels(op, log_probs, target, ignore_index)
    safe = np.where(keep, target, 0)                    # any valid class for ignored samples
    dtype = log_probs.dtype if log_probs.dtype.kind == "f" else np.dtype(np.float64)
    per_sample = keep.astype(dtype) if weight is None else np.where(keep, weight[safe], 0)
    per_sample = per_sample.astype(dtype)
    picked = ops.GetItem.apply(log_probs.astype(dtype), index=_target_index(safe, class_dim))
    losses = -picked * Tensor(per_sample)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return _mean_of(losses.sum(), per_sample.sum(), keep.any())


def _mean_of(total_loss: Tensor, total, counted: bool) -> Tensor:
    """total_loss / total, the mean over the samples that count. Over none (all ignored) it
    is 0/0, NaN, as PyTorch, with the gradient 0, as PyTorch's: no sample contributed.
    Counted samples whose class weights are all 0 give NaN in the gradient too (PyTorch's
    0 * (g / 0))."""
    if total:
        return total_loss * (1.0 / total)
    if not counted:
        return total_loss * 0.0 + float("nan")
    return total_loss * float("nan")


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """-w (y log p + (1 - y) log(1 - p)) for probabilities p = input, each log clamped at -100.

    As PyTorch: the logs are clamped at -100 so that p = 0 or 1 gives a finite loss; p
    outside [0, 1] is an error. The gradient is the derivative of that clamped loss: a
    clamped log adds 0 to it, and where neither is clamped it is w (p - y) / (p (1 - p)),
    even where p (1 - p) < 1e-12.
    (PyTorch's backward differs there: it divides by max(p (1 - p), 1e-12), so p = 0 or 1
    gets about 1e12 (p - y), and its target gradient is the unclamped log(1 - p) - log p.)
    Prefer `binary_cross_entropy_with_logits` on scores: it is stable where this one
    saturates.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> round(binary_cross_entropy(Tensor([0.5, 0.9]), [1.0, 1.0]).item(), 4)
    0.3993
    """
    _check_reduction("binary_cross_entropy", reduction)
    _check_tensor("binary_cross_entropy", "input", input)
    target = _binary_target("binary_cross_entropy", input, target)
    p = input.data
    if p.size and not ((p >= 0) & (p <= 1)).all():
        raise ValueError(f"binary_cross_entropy: input must hold probabilities in [0, 1], got "
                         f"values in [{np.nanmin(p)}, {np.nanmax(p)}]; pass scores to "
                         "binary_cross_entropy_with_logits, or apply sigmoid first")
    # log(1e-44) < -100 even in float32 (a subnormal there): the log never sees 0
    log_p = input.clamp(min=1e-44).log().clamp(min=-100.0)
    log_q = (1 - input).clamp(min=1e-44).log().clamp(min=-100.0)
    losses = -(target * log_p + (1 - target) * log_q)
    return _reduce_weighted(losses, weight, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """binary_cross_entropy(sigmoid(input), target), stable for any score.

    loss = (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x): no exp overflows, and the
    gradient is sigmoid(x) - y (for pos_weight 1) even where sigmoid rounds to 0 or 1.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> binary_cross_entropy_with_logits(Tensor([1000.0]), [0.0]).item()
    1000.0
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    _check_tensor(op, "input", input)
    target = _binary_target(op, input, target)
    softplus_neg = ops.Softplus.apply(-input, beta=1.0, threshold=np.inf)   # log(1 + e^-x)
    if pos_weight is None:
        losses = (1 - target) * input + softplus_neg
    else:
        pw = Tensor(_constant_weight(op, "pos_weight", pos_weight).astype(input.dtype))
        losses = (1 - target) * input + ((pw - 1) * target + 1) * softplus_neg
    return _reduce_weighted(losses, weight, reduction, op)


def _binary_target(op: str, input: Tensor, target) -> Tensor:
    if isinstance(target, Tensor) and target.requires_grad:
        return target if target.shape == input.shape else _binary_shape_error(op, input, target)
    t = _as_array(target)
    if t.shape != input.shape:
        _binary_shape_error(op, input, t)
    return Tensor(t.astype(input.dtype))


def _binary_shape_error(op: str, input, target):
    raise ShapeError(f"{op}: target of shape {target.shape} must have the input's shape "
                     f"{input.shape} (no silent broadcasting in a loss); reshape one of them")


def _constant_weight(op: str, name: str, weight) -> np.ndarray:
    if isinstance(weight, Tensor) and weight.requires_grad:
        raise ValueError(f"{op}: {name} requires grad, but the loss treats it as a constant "
                         f"(as PyTorch, which has no gradient for it); pass {name}.detach()")
    return _as_array(weight)


def _reduce_weighted(losses: Tensor, weight, reduction: str, op: str) -> Tensor:
    if weight is not None:
        w = _constant_weight(op, "weight", weight).astype(losses.dtype)
        try:
            np.broadcast_shapes(w.shape, losses.shape)
        except ValueError:
            raise ShapeError(f"{op}: weight of shape {w.shape} does not broadcast to the "
                             f"losses' shape {losses.shape}") from None
        losses = losses * Tensor(w)
    if reduction == "none":
        return losses
    return losses.mean() if reduction == "mean" else losses.sum()
