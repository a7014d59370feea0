"""Hypothesis strategies for gradient tests, built on `hypothesis.extra.numpy`.

Use them in your own test suite::

    from hypothesis import given
    from tinygrad_edu.testing import gradcheck, strategies as tst

    @given(tst.arrays(min_value=0.1))             # log needs positive inputs
    def test_log_grad(x):
        assert gradcheck(lambda t: t.log(), [x])

Values are finite and bounded; restrict a domain here (`min_value=...`) rather than with
`assume`. Arrays are float64 by default, as numerical gradients need.
"""

from __future__ import annotations

try:
    import hypothesis.extra.numpy as hnp
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tinygrad_edu.testing.strategies needs hypothesis: pip install 'tinygrad_edu[testing]'"
    ) from exc

import numpy as np

from ..tensor import Tensor

MAX_DIMS = 3
MAX_SIDE = 5


def floats(dtype=np.float64, min_value: float = -10.0, max_value: float = 10.0,
           min_magnitude: float = 0.0) -> st.SearchStrategy[float]:
    """Finite floats in [min_value, max_value]; with min_magnitude, none closer to 0 than that.

    `min_magnitude` keeps values away from a kink at 0 (relu, abs) where a central difference
    straddles the kink.
    """
    if min_magnitude > 0:
        return _floats_avoiding(dtype, min_value, max_value, (0.0,), min_magnitude)
    width = 32 if np.dtype(dtype) == np.float32 else 64
    min_value, max_value = _bounds_for(dtype, min_value, max_value)
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=width)


def _floats_avoiding(dtype, min_value: float, max_value: float, points,
                     distance: float) -> st.SearchStrategy[float]:
    """Floats in [min_value, max_value] at least `distance` from each point: one strategy per
    gap between the points (no filtering, so no example is thrown away)."""
    gaps, low = [], min_value
    for p in sorted(float(p) for p in points):
        high = float(np.nextafter(p - distance, -np.inf))   # rounding never brings it closer
        if high >= low:
            gaps.append((low, min(high, max_value)))
        low = max(low, float(np.nextafter(p + distance, np.inf)))
    if low <= max_value:
        gaps.append((low, max_value))
    gaps = [(a, b) for a, b in gaps if a <= b]
    if not gaps:
        raise ValueError(f"floats: no value in [{min_value}, {max_value}] lies {distance} away "
                         f"from {tuple(points)}; widen the range or lower the distance")
    return st.one_of([floats(dtype, a, b) for a, b in gaps])


def _bounds_for(dtype, min_value: float, max_value: float) -> tuple[float, float]:
    """Bounds rounded inwards to the nearest values of `dtype` (0.1 is not a float32)."""
    if np.dtype(dtype) != np.float32:
        return min_value, max_value
    low, high = np.float32(min_value), np.float32(max_value)
    if low < min_value:
        low = np.nextafter(low, np.float32(np.inf))
    if high > max_value:
        high = np.nextafter(high, np.float32(-np.inf))
    return float(low), float(high)


def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 1,
           max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes (hypothesis.extra.numpy.array_shapes)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def arrays(shape=None, dtype=np.float64, min_value: float = -10.0, max_value: float = 10.0,
           min_magnitude: float = 0.0, **shape_options) -> st.SearchStrategy[np.ndarray]:
    """numpy arrays of a given or drawn shape with bounded finite values.

    Parameters
    ----------
    shape : tuple or strategy, optional
        Fixed shape, or a strategy of shapes; default: `shapes(**shape_options)`.
    dtype : numpy dtype
        float64 (default) or float32.
    min_value, max_value, min_magnitude : float
        Value bounds, see `floats`.
    """
    shape = shapes(**shape_options) if shape is None else shape
    return hnp.arrays(dtype, shape, elements=floats(dtype, min_value, max_value, min_magnitude))


def tensors(shape=None, dtype=np.float64, requires_grad: bool = False,
            **options) -> st.SearchStrategy[Tensor]:
    """Tensors wrapping `arrays(shape, dtype, **options)`."""
    return arrays(shape, dtype, **options).map(lambda a: Tensor(a, requires_grad=requires_grad))


@st.composite
def broadcastable_arrays(draw, num: int = 2, dtype=np.float64, min_dims: int = 0,
                         max_dims: int = MAX_DIMS, max_side: int = MAX_SIDE,
                         **value_options) -> tuple[np.ndarray, ...]:
    """`num` arrays whose shapes broadcast together (mutually_broadcastable_shapes)."""
    found = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=num, min_dims=min_dims, max_dims=max_dims, max_side=max_side))
    return tuple(draw(arrays(s, dtype, **value_options)) for s in found.input_shapes)


def broadcastable_tensors(num: int = 2, requires_grad: bool = False,
                          **options) -> st.SearchStrategy[tuple[Tensor, ...]]:
    """Tensors whose shapes broadcast together."""
    return broadcastable_arrays(num, **options).map(
        lambda arrs: tuple(Tensor(a, requires_grad=requires_grad) for a in arrs))


@st.composite
def matmul_arrays(draw, dtype=np.float64, max_side: int = MAX_SIDE, batch_dims: int = 2,
                  **value_options) -> tuple[np.ndarray, np.ndarray]:
    """Operands x, y with x @ y defined: 1-D, 2-D or batched, with broadcasting batch dims."""
    n, k, m = (draw(st.integers(1, max_side)) for _ in range(3))
    x_kind, y_kind = draw(st.sampled_from(["1d", "2d", "batched"])), draw(
        st.sampled_from(["1d", "2d", "batched"]))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1,
                                                   max_dims=batch_dims, max_side=3))
    x_shape = {"1d": (k,), "2d": (n, k), "batched": batch.input_shapes[0] + (n, k)}[x_kind]
    y_shape = {"1d": (k,), "2d": (k, m), "batched": batch.input_shapes[1] + (k, m)}[y_kind]
    return (draw(arrays(x_shape, dtype, **value_options)),
            draw(arrays(y_shape, dtype, **value_options)))


@st.composite
def logits_and_targets(draw, kind: str = "index", min_batch: int = 1, max_batch: int = 8,
                       min_classes: int = 2, max_classes: int = 10, dtype=np.float64,
                       min_value: float = -10.0, max_value: float = 10.0):
    """Logits (N, C) with targets: class indices (N,), one-hot (N, C) or soft labels (N, C).

    kind : {'index', 'onehot', 'soft'}
        Soft labels are rows of probabilities (non-negative, summing to 1).
    """
    n = draw(st.integers(min_batch, max_batch))
    c = draw(st.integers(min_classes, max_classes))
    logits = draw(arrays((n, c), dtype, min_value, max_value))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    if kind == "index":
        return logits, labels
    if kind == "onehot":
        return logits, np.eye(c, dtype=dtype)[labels]
    if kind == "soft":
        weights = draw(arrays((n, c), dtype, 0.01, 1.0))
        return logits, weights / weights.sum(axis=1, keepdims=True)
    raise ValueError(f"logits_and_targets: kind must be 'index', 'onehot' or 'soft', got {kind!r}")


@st.composite
def layer_sizes(draw, min_layers: int = 1, max_layers: int = 3, min_width: int = 1,
                max_width: int = 6) -> list[int]:
    """Sizes of an MLP, input first: [n_in, hidden..., n_out] with min..max weight layers."""
    count = draw(st.integers(min_layers, max_layers))
    return draw(st.lists(st.integers(min_width, max_width), min_size=count + 1,
                         max_size=count + 1))


@st.composite
def mlp_params(draw, sizes=None, layout: str = "rows", dtype=np.float64,
               min_value: float = -1.0, max_value: float = 1.0, **size_options):
    """Weights and biases of an MLP: a list of (W, b) pairs, one per layer.

    layout : {'rows', 'columns'}
        'rows': samples are rows, W is (n_in, n_out), b is (n_out,) and z = x @ W + b.
        'columns': samples are columns (documents 000-003), W is (n_out, n_in), b is
        (n_out, 1) and z = W @ x + b.
    sizes : list of int, optional
        Layer sizes; default drawn with `layer_sizes(**size_options)`.
    """
    sizes = draw(layer_sizes(**size_options)) if sizes is None else sizes
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        w_shape, b_shape = ((n_in, n_out), (n_out,)) if layout == "rows" else (
            (n_out, n_in), (n_out, 1))
        params.append((draw(arrays(w_shape, dtype, min_value, max_value)),
                       draw(arrays(b_shape, dtype, min_value, max_value))))
    return params


# ---- seed documents: samples as columns, per-example column vectors ---------------------
# Used by tests/seed_formulas/: the documents keep samples in columns (X is n_in x m,
# Y is a one-hot C x m) or feed one example at a time as an (n, 1) column vector.


def class_labels(count: int, num_classes: int) -> st.SearchStrategy[np.ndarray]:
    """`count` class indices in [0, num_classes), as an int64 array of shape (count,)."""
    return hnp.arrays(np.int64, (count,), elements=st.integers(0, num_classes - 1))


@st.composite
def column_batches(draw, n_in: int, num_classes: int, min_batch: int = 1, max_batch: int = 6,
                   dtype=np.float64, min_value: float = -2.0, max_value: float = 2.0):
    """A batch with samples as columns: X (n_in, m), one-hot Y (num_classes, m), labels (m,).

    Documents 000 and 003 transpose the data so that each column is one image; Y's column j
    is the one-hot encoding of labels[j].
    """
    m = draw(st.integers(min_batch, max_batch))
    x = draw(arrays((n_in, m), dtype, min_value, max_value))
    labels = draw(class_labels(m, num_classes))
    return x, np.eye(num_classes, dtype=dtype)[labels].T, labels


@st.composite
def unnormalized_targets(draw, shape, dtype=np.float64, min_total: float = -2.0,
                         max_total: float = 4.0, margin: float = 0.25) -> np.ndarray:
    """Target arrays that are not probability vectors: any signs, a sum drawn away from 1.

    The total is drawn from [min_total, 1 - margin] or [1 + margin, max_total] (never 1, so a
    formula that silently assumes sum(y) = 1 is caught); a zero-sum perturbation then gives the
    entries mixed signs without changing the total.
    """
    total = draw(st.one_of(floats(dtype, min_total, 1.0 - margin),
                           floats(dtype, 1.0 + margin, max_total)))
    weights = draw(arrays(shape, dtype, 0.01, 1.0))
    wiggle = draw(arrays(shape, dtype, -1.0, 1.0))
    return total * weights / weights.sum() + (wiggle - wiggle.mean())


# ---- Added with the test suite: values kept away from kinks and from ties -------------------
# Central differences straddle a kink when a value lies within EPS of it; these strategies keep
# every value a chosen distance away (from fixed points, or from every other value).


def arrays_avoiding(points, min_distance: float = 1e-3, shape=None, dtype=np.float64,
                    min_value: float = -10.0, max_value: float = 10.0,
                    **shape_options) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose values all lie at least `min_distance` from each of `points`.

    For ops with kinks away from 0, such as `clamp(-1, 1)` (kinks at -1 and 1);
    `arrays(min_magnitude=d)` is the case `points=(0,)`.

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(arrays_avoiding((-1.0, 1.0), 0.01, shape=(4,)))
    ... def test_clamp_sees_no_kink(x):
    ...     assert (np.abs(x - 1.0) >= 0.01).all() and (np.abs(x + 1.0) >= 0.01).all()
    >>> test_clamp_sees_no_kink()
    """
    elements = _floats_avoiding(dtype, min_value, max_value, points, min_distance)
    shape = shapes(**shape_options) if shape is None else shape
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def distinct_arrays(draw, shape=None, dtype=np.float64, min_value: float = -10.0,
                    max_value: float = 10.0, min_gap: float = 0.01,
                    **shape_options) -> np.ndarray:
    """Arrays whose values are pairwise at least `min_gap` apart: no near-ties.

    For `max`, `min`, `maximum`: a central difference at a near-tie sees the other element
    take over. Values lie on a grid of step `min_gap` within [min_value, max_value], so an
    array holds at most (max_value - min_value) / min_gap + 1 elements: drawn shapes are kept
    to that size, and a given shape that is larger is a ValueError.

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(distinct_arrays((3, 4)))
    ... def test_no_near_ties(x):
    ...     assert np.diff(np.sort(x, axis=None)).min() >= 0.01 - 1e-12
    >>> test_no_near_ties()
    """
    low, high = _grid(min_value, max_value, min_gap)
    if shape is None:
        shape = shapes(**shape_options)
    if isinstance(shape, st.SearchStrategy):  # only shapes whose values fit on the grid
        shape = draw(shape.filter(lambda s: int(np.prod(s)) <= high - low + 1))
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    size = int(np.prod(shape))
    if size > high - low + 1:
        raise ValueError(f"distinct_arrays: {size} values {min_gap} apart do not fit in "
                         f"[{min_value}, {max_value}]; widen the range or lower min_gap")
    # Draw grid points freely (ties allowed), then add each one's rank: the sorted values
    # k_(0) + 0 < k_(1) + 1 < ... become distinct, and the result shrinks towards a ramp.
    steps = draw(hnp.arrays(np.int64, shape, elements=st.integers(low, high - max(size - 1, 0))))
    flat = steps.reshape(-1)
    flat[np.argsort(flat, kind="stable")] += np.arange(size)
    return (flat.reshape(shape) * min_gap).astype(dtype)


def _grid(min_value: float, max_value: float, min_gap: float) -> tuple[int, int]:
    """The first and last k with k * min_gap in [min_value, max_value]: high - low + 1
    grid points, the most values `distinct_arrays` can draw."""
    return int(np.ceil(min_value / min_gap)), int(np.floor(max_value / min_gap))


@st.composite
def distinct_broadcastable_arrays(draw, num: int = 2, dtype=np.float64, min_dims: int = 0,
                                  max_dims: int = MAX_DIMS, max_side: int = MAX_SIDE,
                                  min_value: float = -10.0, max_value: float = 10.0,
                                  min_gap: float = 0.01) -> tuple[np.ndarray, ...]:
    """Like `broadcastable_arrays`, with all values of all arrays pairwise apart (see
    `distinct_arrays`): for elementwise `maximum` and `minimum` without near-ties. Only
    shapes whose values all fit on the grid of `distinct_arrays` are drawn."""
    low, high = _grid(min_value, max_value, min_gap)
    found = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=num, min_dims=min_dims, max_dims=max_dims, max_side=max_side).filter(
        lambda f: sum(int(np.prod(s)) for s in f.input_shapes) <= high - low + 1))
    sizes = [int(np.prod(s)) for s in found.input_shapes]
    flat = draw(distinct_arrays((sum(sizes),), dtype, min_value, max_value, min_gap))
    ends = np.cumsum(sizes)
    return tuple(flat[end - size:end].reshape(s)
                 for s, size, end in zip(found.input_shapes, sizes, ends, strict=True))


def reduction_dims(ndim: int, allow_none: bool = True) -> st.SearchStrategy:
    """A `dim` argument for a reduction over an `ndim`-dim tensor: None (all dims, if
    `allow_none`), one dim, or a tuple of distinct dims; negative dims included.

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(reduction_dims(3))
    ... def test_sum_keeps_the_other_dims(dim):
    ...     x = np.ones((2, 3, 4))
    ...     assert x.sum(axis=dim).size <= x.size
    >>> test_sum_keeps_the_other_dims()
    """
    options = [st.none()] if allow_none else []
    if ndim:
        options += [st.integers(-ndim, ndim - 1), hnp.valid_tuple_axes(ndim, min_size=1)]
    return st.one_of(options) if options else st.just(())


# ---- convolution and pooling -----------------------------------------------------------------

@st.composite
def image_batches(draw, min_batch: int = 1, max_batch: int = 3, channels: int | None = None,
                  max_channels: int = 3, min_side: int = 1, max_side: int = 6,
                  dtype=np.float64, distinct: bool = False, **value_options) -> np.ndarray:
    """Image batches (N, C, H, W), NCHW as conv2d takes them; `distinct` values for max
    pooling (no near-ties, see `distinct_arrays`).

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(image_batches(channels=2))
    ... def test_layout(x):
    ...     assert x.ndim == 4 and x.shape[1] == 2
    >>> test_layout()
    """
    n = draw(st.integers(min_batch, max_batch))
    c = channels if channels is not None else draw(st.integers(1, max_channels))
    h, w = (draw(st.integers(min_side, max_side)) for _ in range(2))
    if distinct:
        return draw(distinct_arrays((n, c, h, w), dtype, min_gap=value_options.pop(
            "min_gap", 0.01), **value_options))
    return draw(arrays((n, c, h, w), dtype, **value_options))


@st.composite
def conv_cases(draw, max_batch: int = 2, max_groups: int = 3, max_channels_per_group: int = 2,
               max_side: int = 7, max_kernel: int = 3, max_stride: int = 3,
               max_dilation: int = 2, max_padding: int = 2, bias: bool | None = None,
               dtype=np.float64, **value_options) -> dict:
    """Arguments of one conv2d call that fit together: `x` (N, C, H, W), `weight`
    (O, C / groups, kh, kw), `bias` (O,) or None, and `stride`, `padding`, `dilation` (pairs)
    and `groups`, with every output side at least 1.

    Examples
    --------
    >>> from hypothesis import given
    >>> from tinygrad_edu import Tensor
    >>> from tinygrad_edu.nn import functional as F
    >>> @given(conv_cases())
    ... def test_it_runs(case):
    ...     x, w = Tensor(case["x"]), Tensor(case["weight"])
    ...     b = None if case["bias"] is None else Tensor(case["bias"])
    ...     options = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    ...     assert F.conv2d(x, w, b, **options).shape[:2] == (len(case["x"]), len(w))
    >>> test_it_runs()
    """
    groups = draw(st.integers(1, max_groups))
    cg = draw(st.integers(1, max_channels_per_group))
    og = draw(st.integers(1, max_channels_per_group))
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(2))
    stride = tuple(draw(st.integers(1, max_stride)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, max_dilation)) for _ in range(2))
    padding = tuple(draw(st.integers(0, max_padding)) for _ in range(2))
    # each side at least the dilated kernel's span, minus the padding on both sides
    sides = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), max(
        max_side, d * (k - 1) + 1))) for k, d, p in zip(kernel, dilation, padding, strict=True))
    n = draw(st.integers(1, max_batch))
    with_bias = draw(st.booleans()) if bias is None else bias
    return {
        "x": draw(arrays((n, cg * groups) + sides, dtype, **value_options)),
        "weight": draw(arrays((og * groups, cg) + kernel, dtype, **value_options)),
        "bias": draw(arrays((og * groups,), dtype, **value_options)) if with_bias else None,
        "stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
    }


@st.composite
def pool_cases(draw, kind: str = "max", max_batch: int = 2, max_channels: int = 2,
               max_side: int = 7, max_kernel: int = 3, max_stride: int = 3,
               dtype=np.float64) -> dict:
    """Arguments of one max_pool2d (kind 'max') or avg_pool2d (kind 'avg') call that fit:
    `x` and `kernel_size`, `stride`, `padding` (at most half the kernel), `ceil_mode`, and
    `dilation` for max pooling. Max pooling's values are pairwise apart (no near-ties).

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(pool_cases("avg"))
    ... def test_fits(case):
    ...     assert 2 * max(case["padding"]) <= max(case["kernel_size"]) + 1
    >>> test_fits()
    """
    if kind not in ("max", "avg"):
        raise ValueError(f"pool_cases: kind must be 'max' or 'avg', got {kind!r}")
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2)) if kind == "max" else (1, 1)
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    stride = tuple(draw(st.integers(1, max_stride)) for _ in range(2))
    sides = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), max(max_side, d * (k - 1)
                                                                          + 1)))
                  for k, d, p in zip(kernel, dilation, padding, strict=True))
    ceil_mode = draw(st.booleans())
    if kind == "max":   # a window of padding alone has no value: no padding along that axis
        fixed = [(size, p) if _windows_see_input(size, k, s, p, d, ceil_mode)
                 else (max(size, d * (k - 1) + 1), 0)
                 for size, k, s, p, d in zip(sides, kernel, stride, padding, dilation,
                                             strict=True)]
        sides, padding = tuple(f[0] for f in fixed), tuple(f[1] for f in fixed)
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    shape = (n, c) + sides
    x = draw(distinct_arrays(shape, dtype, -20.0, 20.0) if kind == "max" else arrays(shape,
                                                                                       dtype))
    case = {"x": x, "kernel_size": kernel, "stride": stride, "padding": padding,
            "ceil_mode": ceil_mode}
    if kind == "max":
        case["dilation"] = dilation
    return case


def _windows_see_input(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> bool:
    """Whether every pooling window along one axis has a tap inside the input (PyTorch's
    output size, ceil_mode's rule that the last window starts inside input or left padding)."""
    span = d * (k - 1) + 1
    count = (size + 2 * p - span) // s + 1
    if ceil_mode:
        count = -(-(size + 2 * p - span) // s) + 1
        if (count - 1) * s >= size + p:
            count -= 1
    return all(any(0 <= a * s - p + i * d < size for i in range(k)) for a in range(count))
