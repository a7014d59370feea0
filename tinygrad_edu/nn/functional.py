"""Functions of Tensors with PyTorch's names, signatures and reductions: losses (cross-entropy
with class weights, ignore_index and label smoothing, NLL, MSE, the binary cross-entropies),
activations, and the pieces of a convolutional network (conv1d/conv2d, max and average
pooling, pad, dropout, batch_norm)."""

from __future__ import annotations

import numpy as np

from .. import function as _function
from .. import ops
from .. import random as _random
from ..autograd import no_grad as _no_grad
from ..errors import DtypeError, ShapeError, class_index_error
from ..ops.conv import avg_pool_divisor
from ..ops.losses import _target_index
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
        as PyTorch). Class indices only.
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
        # one reduction, as before: a negative label is ignore_index's or an error
        negative = target.size and np.minimum.reduce(target, axis=None) < 0
        if weight is not None or label_smoothing or negative:
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
        smooth = smooth.sum() * (1.0 / total if total else float("nan"))
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
    (-100 by default) add nothing and do not count (all ignored: the mean is NaN).

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
    if weight is not None or negative:
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


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`; integers are computed in floats, an empty dim is empty."""
    _check_tensor("softmax", "x", x)
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - log(sum(exp(x))) along `dim`, stable for large values (ints, empty dims: as softmax)."""
    _check_tensor("log_softmax", "x", x)
    return x.log_softmax(dim)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias, as one op (PyTorch's `F.linear`; the op `nn.Linear` runs).

    `weight` has shape (out_features, in_features); `input` ends with in_features.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> linear(Tensor([[1.0, 2.0]]), Tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
    ...        Tensor([0.5, 0.5, 0.5]))
    Tensor([[1.5, 2.5, 3.5]], dtype=float32)
    """
    _check_tensor("linear", "input", input)
    _check_tensor("linear", "weight", weight)
    if bias is None:
        return ops.Linear.apply(input, weight)
    _check_tensor("linear", "bias", bias)
    return ops.Linear.apply(input, weight, bias)


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """tanh(x)."""
    return x.tanh()


# ---- activations ---------------------------------------------------------------------------

def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere (the slope's gradient at 0, as PyTorch).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> leaky_relu(Tensor([-2.0, 3.0]), 0.1)
    Tensor([-0.2,  3. ], dtype=float32)
    """
    _check_tensor("leaky_relu", "x", x)
    return ops.Where.apply(x, x * negative_slope, condition=x.data > 0)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, alpha * (exp(x) - 1) elsewhere.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> elu(Tensor([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    _check_tensor("elu", "x", x)
    # exp of min(x, 0): the branch not taken never overflows
    negative = (x.clamp(max=0.0).exp() - 1) * alpha
    return ops.Where.apply(x, negative, condition=x.data > 0)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt(2))).

    approximate='tanh' uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> round(gelu(Tensor([1.0])).item(), 4), round(gelu(Tensor([1.0]), "tanh").item(), 4)
    (0.8413, 0.8412)
    """
    _check_tensor("gelu", "x", x)
    if approximate == "none":
        return x * 0.5 * (ops.Erf.apply(x * (1 / np.sqrt(2.0))) + 1)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * np.sqrt(2 / np.pi)
        return x * 0.5 * (inner.tanh() + 1)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> silu(Tensor([0.0])).item()
    0.0
    """
    _check_tensor("silu", "x", x)
    return x * x.sigmoid()


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, computed without overflow; x itself where beta x > threshold.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> round(softplus(Tensor([0.0])).item(), 4), softplus(Tensor([1000.0])).item()
    (0.6931, 1000.0)
    """
    _check_tensor("softplus", "x", x)
    if not beta > 0:
        raise ValueError(f"softplus: beta must be > 0, got {beta}")
    return ops.Softplus.apply(x, beta=beta, threshold=threshold)


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
    total = per_sample.sum()
    return losses.sum() * (1.0 / total if total else float("nan"))   # 0/0 is NaN, as PyTorch


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """-w (y log p + (1 - y) log(1 - p)) for probabilities p = input, each log clamped at -100.

    As PyTorch: the logs are clamped at -100 so that p = 0 or 1 gives a finite loss (the
    gradient is 0 where a log is clamped); p outside [0, 1] is an error. Prefer
    `binary_cross_entropy_with_logits` on scores: it is stable where this one saturates.

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


# ---- convolution, pooling, padding ---------------------------------------------------------

def _pair(op: str, name: str, value, low: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each >= low, as the pair (for H, W)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value) \
        if isinstance(value, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < low:
        raise ValueError(f"{op}: {name} must be >= {low}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _image_batch(op: str, x, dims: int = 4) -> tuple[Tensor, bool]:
    """x as a batch (N, C, H, W); True when an unbatched (C, H, W) was given."""
    _check_tensor(op, "input", x)
    if x.ndim == dims - 1:
        return x.unsqueeze(0), True
    if x.ndim != dims:
        layout = "(N, C, H, W) or (C, H, W)" if dims == 4 else "(N, C, L) or (C, L)"
        raise ShapeError(f"{op}: input of shape {x.shape} is not an image batch; pass shape "
                         f"{layout} (channels first, as PyTorch)")
    return x, False


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library), NCHW.

    out[n, o, a, b] = bias[o] + sum_{c, i, j} weight[o, c, i, j] x[n, c, a s + i d, b s + j d]
    over the channels c of o's group, x zero-padded. One `ops.Conv2d` (im2col and one matrix
    product); its backward is again a convolution (derivations.md, "Convolution").

    Parameters
    ----------
    input : Tensor
        Shape (N, C, H, W), or (C, H, W) for one image.
    weight : Tensor
        Shape (O, C / groups, kh, kw).
    bias : Tensor, optional
        Shape (O,).
    stride, dilation : int or (int, int)
        Step between windows, and between the kernel's taps (>= 1).
    padding : int, (int, int), 'valid' or 'same'
        Zeros added on both sides of H and W; 'same' (stride 1 only) keeps H and W, with the
        odd extra row or column at the bottom or right, as PyTorch.
    groups : int
        Split C and O into this many groups, each convolved separately (C: depthwise).

    Returns
    -------
    Tensor
        Shape (N, O, OH, OW), OH = (H + 2 padding - dilation (kh - 1) - 1) // stride + 1.

    Raises
    ------
    ShapeError
        Shapes that do not fit (channels, groups, a kernel larger than the padded input).
    TypeError, ValueError
        A stride, padding, dilation or groups that is not a positive int (or pair).

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> conv2d(x, Tensor(np.ones((1, 1, 2, 2))), stride=2)
    Tensor([[[[10., 18.],
              [42., 50.]]]], dtype=float64)
    """
    op = "conv2d"
    x, unbatched = _image_batch(op, input)
    _check_tensor(op, "weight", weight)
    stride, dilation = _pair(op, "stride", stride), _pair(op, "dilation", dilation)
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if weight.ndim != 4:
        raise ShapeError(f"{op}: weight must have shape (out_channels, in_channels / groups, "
                         f"kh, kw), got {weight.shape}")
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if c % groups or o % groups or cg * groups != c:
        raise ShapeError(f"{op}: input {x.shape} has {c} channels and weight {weight.shape} "
                         f"takes {cg} per group with groups={groups}; need in_channels = "
                         f"{cg} x {groups} and out_channels ({o}) divisible by groups")
    if x.dtype != weight.dtype:
        raise DtypeError(f"{op}: input is {x.dtype} and weight is {weight.dtype}; convert "
                         f"one, for example input.astype(np.{weight.dtype})")
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (o,)):
        raise ShapeError(f"{op}: bias must be a Tensor of shape ({o},), got "
                         f"{getattr(bias, 'shape', type(bias).__name__)}")
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
        total = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
        padding = (total[0] // 2, total[1] // 2)
        if total[0] % 2 or total[1] % 2:    # the odd extra row/column: bottom and right
            x = pad(x, (0, total[1] % 2, 0, total[0] % 2))
            h, w = x.shape[2:]
    elif isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got "
                         f"{padding!r}")
    else:
        padding = _pair(op, "padding", padding, low=0)
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    if h + 2 * padding[0] < span[0] or w + 2 * padding[1] < span[1]:
        raise ShapeError(f"{op}: input {x.shape} padded by {padding} is "
                         f"{(h + 2 * padding[0], w + 2 * padding[1])}, smaller than the "
                         f"kernel {(kh, kw)} spanning {span} with dilation {dilation}; pad "
                         "more or use a smaller kernel")
    out = ops.Conv2d.apply(x, weight, stride=stride, padding=padding, dilation=dilation,
                           groups=int(groups))
    if bias is not None:
        out = out + bias.reshape(o, 1, 1)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding=0, dilation: int = 1, groups: int = 1) -> Tensor:
    """1-D convolution over (N, C, L) with weight (O, C / groups, k): conv2d with H = 1.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> conv1d(Tensor([[[1.0, 2.0, 3.0]]]), Tensor([[[1.0, -1.0]]]))
    Tensor([[[-1., -1.]]], dtype=float32)
    """
    x, unbatched = _image_batch("conv1d", input, dims=3)
    _check_tensor("conv1d", "weight", weight)
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: weight must have shape (out_channels, in_channels / "
                         f"groups, k), got {weight.shape}")
    one = (lambda v: (1, v)) if not isinstance(padding, str) else (lambda v: v)
    pad1 = padding if isinstance(padding, str) else (0, padding)
    out = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, stride=one(stride) if isinstance(
        stride, (int, np.integer)) else stride, padding=pad1, dilation=(1, dilation),
        groups=groups).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """kernel, stride, padding, dilation as pairs, and ceil_mode's extra bottom/right rows."""
    kernel = _pair(op, "kernel_size", kernel_size)
    stride = kernel if stride is None or stride == [] else _pair(op, "stride", stride)
    padding = _pair(op, "padding", padding, low=0)
    dilation = _pair(op, "dilation", dilation)
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    if padding[0] * 2 > kernel[0] or padding[1] * 2 > kernel[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size "
                         f"{kernel} (a window of padding alone has no value)")
    extra = []
    for size, k, s, p in zip(x.shape[2:], span, stride, padding, strict=True):
        if size + 2 * p < k:
            raise ShapeError(f"{op}: input {x.shape} padded by {padding} is smaller than the "
                             f"kernel {kernel} (spanning {tuple(span)}); use a smaller kernel")
        out = (size + 2 * p - k) // s + 1
        if ceil_mode:
            out = -(-(size + 2 * p - k) // s) + 1
            if (out - 1) * s >= size + p:         # the last window must start inside x
                out -= 1
        extra.append(max(0, (out - 1) * s + k - size - 2 * p))
    return kernel, stride, padding, dilation, tuple(extra)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """The largest value of each kernel_size window, NCHW (stride = kernel_size by default).

    Padding counts as -inf. Ties: the whole gradient goes to the first largest element of
    the window in row-major order (PyTorch's CPU rule); where windows overlap, an element
    that wins several gets the sum of their gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2)
    Tensor([[[[ 5.,  7.],
              [13., 15.]]]], dtype=float64)
    """
    x, unbatched = _image_batch("max_pool2d", input)
    kernel, stride, padding, dilation, extra = _pool_geometry(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    out = ops.MaxPool2d.apply(x, kernel=kernel, stride=stride, dilation=dilation,
                              padding=(padding[0], padding[0] + extra[0], padding[1],
                                       padding[1] + extra[1]))
    return out.squeeze(0) if unbatched else out


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean of each kernel_size window, NCHW (stride = kernel_size by default).

    A convolution of each channel with a kernel of ones, divided by the window's count:
    kh kw including padding (count_include_pad, PyTorch's default), or only x's elements, or
    `divisor_override`. ceil_mode's extra windows count only what they cover of x and its
    padding, as PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> avg_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2)
    Tensor([[[[ 2.5,  4.5],
              [10.5, 12.5]]]], dtype=float64)
    """
    op = "avg_pool2d"
    x, unbatched = _image_batch(op, input)
    kernel, stride, padding, _, extra = _pool_geometry(op, x, kernel_size, stride, padding,
                                                       1, ceil_mode)
    if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override
                                         <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive number, got "
                         f"{divisor_override!r}")
    n, c, h, w = x.shape
    planes = x.reshape(n * c, 1, h, w)
    if any(extra):                  # ceil_mode's extra rows: zeros, not counted below
        planes = ops.Pad.apply(planes, widths=((0, 0), (0, 0), (padding[0], padding[0] +
                               extra[0]), (padding[1], padding[1] + extra[1])))
        conv_padding = (0, 0)
    else:
        conv_padding = padding
    ones = Tensor(np.ones((1, 1) + kernel, x.dtype if x.dtype.kind == "f" else np.float64))
    sums = ops.Conv2d.apply(planes if x.dtype.kind == "f" else planes.double(), ones,
                            stride=stride, padding=conv_padding, dilation=(1, 1), groups=1)
    sums = sums.reshape(n, c, *sums.shape[2:])
    if divisor_override is not None:
        out = sums * (1.0 / divisor_override)
    elif count_include_pad and not any(extra):
        out = sums * (1.0 / (kernel[0] * kernel[1]))
    else:
        out = sums / avg_pool_divisor((h, w), kernel, stride, padding, extra,
                                      count_include_pad, sums.dtype)
    return out.squeeze(0) if unbatched else out


def pad(input: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad) // 2 dims: pad = (left, right, top, bottom, ...), last dim first.

    mode 'constant' fills with `value` (0 by default); 'reflect' mirrors without repeating
    the edge, 'replicate' repeats the edge, 'circular' wraps around. The last three are
    indexing (`x[..., rows, cols]`), so their gradient adds up every copy of an element.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> pad(Tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
    Tensor([[3., 2., 1., 2., 3., 2.]], dtype=float32)
    """
    op = "pad"
    _check_tensor(op, "input", input)
    widths = tuple(pad)
    if len(widths) % 2 or len(widths) // 2 > input.ndim or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in widths):
        raise ValueError(f"{op}: pad must hold an even number of ints, two per padded dim "
                         f"(last dim first), at most {2 * input.ndim} for shape {input.shape}; "
                         f"got {pad!r}")
    if any(p < 0 for p in widths):
        raise ValueError(f"{op}: negative padding {pad!r} is not supported; crop with "
                         "indexing instead (x[..., a:b])")
    count = len(widths) // 2
    pairs = [(int(widths[2 * i]), int(widths[2 * i + 1])) for i in range(count)][::-1]
    lead = input.ndim - count
    if mode == "constant":
        full = [(0, 0)] * lead + pairs
        return ops.Pad.apply(input, widths=tuple(full), value=0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"{op}: mode must be 'constant', 'reflect', 'replicate' or "
                         f"'circular', got {mode!r}")
    if value is not None:
        raise ValueError(f"{op}: value is for mode='constant' only, got value={value} with "
                         f"mode={mode!r}")
    maps = []
    for size, (before, after) in zip(input.shape[lead:], pairs, strict=True):
        limit = size - 1 if mode == "reflect" else size
        if max(before, after) > limit or size == 0:
            raise ValueError(f"{op}: {mode} padding of {(before, after)} needs a dim of more "
                             f"than {max(before, after)}{'' if mode != 'reflect' else ''} "
                             f"elements, got {size} (shape {input.shape})")
        i = np.arange(-before, size + after)
        if mode == "reflect":
            period = 2 * (size - 1)
            i = np.abs((i + period) % period if period else i * 0)
            i = np.where(i > size - 1, period - i, i)
        elif mode == "replicate":
            i = np.clip(i, 0, size - 1)
        else:
            i = i % size
        maps.append(i)
    index = (slice(None),) * lead + np.ix_(*maps)
    return ops.GetItem.apply(input, index=index)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p); the identity
    when not training (so the expected value is the same in both modes).

    The mask comes from the global generator (`tinygrad_edu.manual_seed`) and is a constant:
    the gradient is the same mask times 1 / (1 - p).

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> dropout(Tensor([1.0, 2.0]), 0.5, training=False)
    Tensor([1., 2.], dtype=float32)
    """
    _check_tensor("dropout", "input", input)
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if not training or p == 0:
        return input
    dtype = input.dtype if input.dtype.kind == "f" else np.dtype(np.float32)
    if p == 1:
        return input * Tensor(np.zeros((), dtype))
    keep = _random.make_rng(None).random(input.shape, dtype=np.float32) >= p
    mask = Tensor(keep.astype(dtype) * dtype.type(1 / (1 - p)))
    mask.name = f"dropout mask / {1 - p:g}"                # as drawings label it
    return input * mask


def batch_norm(input: Tensor, running_mean, running_var, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1), as PyTorch.

    Training: mean and (biased) var over every dim but 1, from this batch, with the gradient
    flowing through them; running_mean and running_var (Tensors of shape (C,), or None) are
    then updated in place, without a gradient: running = (1 - momentum) running + momentum
    stat, with the unbiased variance. Evaluation: the running statistics, as constants.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Tensor
    >>> mean, var = Tensor(np.zeros(1, np.float32)), Tensor(np.ones(1, np.float32))
    >>> batch_norm(Tensor([[1.0], [3.0]]), mean, var, training=True, eps=0.0)
    Tensor([[-1.],
            [ 1.]], dtype=float32)
    >>> mean, var                                  # 0.1 x 2, and 0.9 + 0.1 x 2 (unbiased)
    (Tensor([0.2], dtype=float32), Tensor([1.1], dtype=float32))
    """
    op = "batch_norm"
    _check_tensor(op, "input", input)
    if input.ndim < 2:
        raise ShapeError(f"{op}: input of shape {input.shape} has no channel dim; pass "
                         "(N, C), (N, C, L) or (N, C, H, W)")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and (not isinstance(t, Tensor) or t.shape != (c,)):
            raise ShapeError(f"{op}: {name} must be a Tensor of shape ({c},) for input "
                             f"{input.shape}, got {getattr(t, 'shape', type(t).__name__)}")
    dims = (0,) + tuple(range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)
    if training:
        count = input.data.size // max(c, 1)
        if count <= 1:
            raise ValueError(f"{op}: training needs more than one value per channel, got "
                             f"input of shape {input.shape}; use a larger batch or eval()")
        mean = input.mean(dims, keepdim=True)
        centred = input - mean
        var = (centred * centred).mean(dims, keepdim=True)
        if running_mean is not None or running_var is not None:
            with _no_grad():
                _update_running(running_mean, mean.data.reshape(c), momentum)
                _update_running(running_var, var.data.reshape(c) * (count / (count - 1)),
                                momentum)
        out = centred / (var + eps).sqrt()
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: evaluation (training=False) needs running_mean and "
                             "running_var; pass them, or training=True for batch statistics")
        scale = 1 / np.sqrt(running_var.data.reshape(shape) + eps)
        out = (input - Tensor(running_mean.data.reshape(shape))) * Tensor(scale.astype(
            running_var.dtype))
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _update_running(stat: Tensor | None, value: np.ndarray, momentum: float) -> None:
    if stat is None:
        return
    np.copyto(stat.data, (1 - momentum) * stat.data + momentum * value, casting="unsafe")
    _function.mark_written(stat.data)
