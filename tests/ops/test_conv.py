"""Convolution, pooling (max_pool2d's indices, max_unpool2d) and padding: values against
independent references (scipy's correlate2d, loops), gradients of first and second order
against central differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import signal

from tinygrad_edu import Tensor, no_grad, ops
from tinygrad_edu.errors import DtypeError, ShapeError
from tinygrad_edu.nn import functional as F
from tinygrad_edu.ops import conv as ops_conv
from tinygrad_edu.testing import check_grad
from tinygrad_edu.testing import strategies as tst

GEOMETRY = ("stride", "padding", "dilation", "groups")


def ref_conv2d(x, w, b, stride, padding, dilation, groups):
    """conv2d from scipy.signal.correlate2d: one 2-D correlation per (sample, out, in)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    dilated = np.zeros((o, cg, dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1))
    dilated[:, :, ::dilation[0], ::dilation[1]] = w
    og = o // groups
    rows = []
    for s in range(n):
        planes = []
        for k in range(o):
            group = k // og
            acc = sum(signal.correlate2d(xp[s, group * cg + j], dilated[k, j], mode="valid")
                      for j in range(cg))
            planes.append(acc[::stride[0], ::stride[1]] + (0 if b is None else b[k]))
        rows.append(planes)
    return np.array(rows)


def ref_pool(x, kernel, stride, padding, dilation, ceil_mode, kind, count_include_pad=True):
    """Max or average pooling by loops over every output element, PyTorch's definitions."""
    n, c, h, w = x.shape

    def size(i, k, s, p, d):
        span = d * (k - 1) + 1
        if ceil_mode:
            out = -(-(i + 2 * p - span) // s) + 1
            return out - 1 if (out - 1) * s >= i + p else out
        return (i + 2 * p - span) // s + 1

    oh = size(h, kernel[0], stride[0], padding[0], dilation[0])
    ow = size(w, kernel[1], stride[1], padding[1], dilation[1])
    out = np.zeros((n, c, oh, ow))
    for a in range(oh):
        for b in range(ow):
            r0, c0 = a * stride[0] - padding[0], b * stride[1] - padding[1]
            rows = [r0 + i * dilation[0] for i in range(kernel[0])]
            cols = [c0 + j * dilation[1] for j in range(kernel[1])]
            inside = [(r, q) for r in rows for q in cols if 0 <= r < h and 0 <= q < w]
            values = np.stack([x[:, :, r, q] for r, q in inside] or [np.full(x.shape[:2],
                                                                             -np.inf)], -1)
            if kind == "max":                      # a window of padding alone: -inf
                out[:, :, a, b] = values.max(-1)
            else:
                r_end = min(r0 + kernel[0], h + padding[0])
                c_end = min(c0 + kernel[1], w + padding[1])
                count = ((r_end - r0) * (c_end - c0) if count_include_pad else len(inside))
                out[:, :, a, b] = values.sum(-1) / count
    return out


def _conv(case):
    return lambda x, w, *b: F.conv2d(x, w, b[0] if b else None,
                                     **{k: case[k] for k in GEOMETRY})


# ---- conv2d ----------------------------------------------------------------------------------


@given(tst.conv_cases())
def test_cnn_conv2d_matches_scipy_correlate2d(case):
    b = None if case["bias"] is None else Tensor(case["bias"])
    out = F.conv2d(Tensor(case["x"]), Tensor(case["weight"]), b,
                   **{k: case[k] for k in GEOMETRY})
    expected = ref_conv2d(case["x"], case["weight"], case["bias"],
                          *(case[k] for k in GEOMETRY))
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-10)


@settings(max_examples=10)
@given(tst.conv_cases(max_side=5, max_channels_per_group=2, max_groups=2))
def test_cnn_conv2d_grad_matches_numerical(case):
    """Input, kernel and bias; second order too (x*w is bilinear: d2/dx dw is not zero)."""
    inputs = [case["x"], case["weight"]] + ([] if case["bias"] is None else [case["bias"]])
    check_grad(_conv(case), *inputs, order=2)


@settings(max_examples=10)
@given(tst.conv_cases(max_side=5, max_groups=2, bias=False))
def test_cnn_conv_transpose_and_kernel_ops_grad_matches_numerical(case):
    """The two ops of conv2d's backward, differentiated on their own (so a third derivative
    of conv2d is a first derivative of these)."""
    geometry = {k: case[k] for k in GEOMETRY}
    x, w = case["x"], case["weight"]
    out = ops.Conv2d.apply(Tensor(x), Tensor(w), **geometry)
    g = np.random.default_rng(0).normal(size=out.shape)
    check_grad(lambda g_, w_: ops.ConvTranspose2d.apply(g_, w_, **geometry, size=x.shape[2:]),
               g, w, order=2)
    check_grad(lambda x_, g_: ops.Conv2dWeight.apply(x_, g_, **geometry, kernel=w.shape[2:]),
               x, g, order=2)


@given(data=st.data(), case=tst.conv_cases(bias=False))
def test_cnn_conv_ops_are_each_others_adjoints(data, case):
    """<Conv2d(x, w), g> = <x, ConvTranspose2d(g, w)> = <w, Conv2dWeight(x, g)>: im2col's
    layout (windows batch first) and col2im's (batch last) agree for every geometry."""
    geometry = {k: case[k] for k in GEOMETRY}
    x, w = case["x"], case["weight"]
    y = ops.Conv2d.apply(Tensor(x), Tensor(w), **geometry).data
    g = data.draw(tst.arrays(y.shape))
    gx = ops.ConvTranspose2d.apply(Tensor(g), Tensor(w), **geometry, size=x.shape[2:]).data
    gw = ops.Conv2dWeight.apply(Tensor(x), Tensor(g), **geometry, kernel=w.shape[2:]).data
    assert gx.shape == x.shape and gw.shape == w.shape
    np.testing.assert_allclose(np.vdot(x, gx), np.vdot(y, g), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.vdot(w, gw), np.vdot(y, g), rtol=1e-9, atol=1e-9)


def test_cnn_conv2d_third_derivative_matches_numerical():
    x = np.random.default_rng(1).normal(size=(1, 2, 4, 4))
    w = np.random.default_rng(2).normal(size=(2, 1, 2, 2))
    check_grad(lambda a, b: (F.conv2d(a, b, stride=2, padding=1, groups=2) ** 2), x, w, order=3)


def test_cnn_conv2d_padding_same_keeps_the_size_even_kernels_pad_bottom_right():
    x = np.random.default_rng(0).normal(size=(1, 1, 5, 6))
    w = np.random.default_rng(1).normal(size=(1, 1, 2, 4))
    out = F.conv2d(Tensor(x), Tensor(w), padding="same")
    assert out.shape == (1, 1, 5, 6)
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 2)))  # PyTorch: odd extra at the end
    np.testing.assert_allclose(out.data, ref_conv2d(padded, w, None, (1, 1), (0, 0), (1, 1), 1))
    check_grad(lambda a, b: F.conv2d(a, b, padding="same"), x, w, order=2)


def test_cnn_conv2d_unbatched_and_conv1d():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 5, 5)), rng.normal(size=(3, 2, 3, 3))
    np.testing.assert_allclose(F.conv2d(Tensor(x), Tensor(w)).data,
                               F.conv2d(Tensor(x[None]), Tensor(w)).data[0])
    x1, w1 = rng.normal(size=(2, 2, 7)), rng.normal(size=(4, 1, 3))
    out = F.conv1d(Tensor(x1), Tensor(w1), stride=2, padding=1, dilation=2, groups=2)
    expected = ref_conv2d(x1[:, :, None], w1[:, :, None], None, (1, 2), (0, 1), (1, 2), 2)
    np.testing.assert_allclose(out.data, expected[:, :, 0])
    check_grad(lambda a, b: F.conv1d(a, b, stride=2, padding=1, dilation=2, groups=2),
               x1, w1, order=2)


def test_cnn_conv2d_float32_stays_float32_and_is_one_product():
    x = Tensor(np.ones((2, 3, 8, 8), np.float32), requires_grad=True)
    w = Tensor(np.ones((4, 3, 3, 3), np.float32), requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    assert out.dtype == np.float32 and out.grad_fn.name == "Conv2d"
    out.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize("call, match", [
    (lambda: F.conv2d(Tensor(np.ones((1, 4, 5, 5))), Tensor(np.ones((2, 3, 3, 3)))),
     r"conv2d: input \(1, 4, 5, 5\) has 4 channels and weight \(2, 3, 3, 3\) takes 3"),
    (lambda: F.conv2d(Tensor(np.ones((1, 4, 5, 5))), Tensor(np.ones((3, 2, 3, 3))), groups=2),
     r"out_channels \(3\) divisible by groups"),
    (lambda: F.conv2d(Tensor(np.ones((1, 1, 2, 2))), Tensor(np.ones((1, 1, 3, 3)))),
     r"conv2d: input \(1, 1, 2, 2\) padded by \(0, 0\) is \(2, 2\), smaller than the kernel"),
    (lambda: F.conv2d(Tensor(np.ones((5, 5))), Tensor(np.ones((1, 1, 3, 3)))),
     r"conv2d: input of shape \(5, 5\) is not an image batch"),
    (lambda: F.conv2d(Tensor(np.ones((1, 1, 5, 5))), Tensor(np.ones((1, 1, 3, 3))),
                      Tensor(np.ones(2))), r"conv2d: bias must be a Tensor of shape \(1,\)"),
])
def test_cnn_conv2d_shape_errors_name_the_shapes(call, match):
    with pytest.raises(ShapeError, match=match):
        call()


def test_cnn_conv2d_refuses_bad_options_and_mixed_dtypes():
    x, w = Tensor(np.ones((1, 1, 5, 5))), Tensor(np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: stride must be >= 1, got 0"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(TypeError, match=r"conv2d: padding must be an int or a pair of ints"):
        F.conv2d(x, w, padding=1.5)
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(DtypeError, match=r"conv2d: input is float64 and weight is float32"):
        F.conv2d(x, w.astype(np.float32))


# ---- pooling -----------------------------------------------------------------------------------


@given(tst.pool_cases("max"))
def test_cnn_max_pool2d_matches_loops(case):
    out = F.max_pool2d(Tensor(case["x"]), case["kernel_size"], case["stride"], case["padding"],
                       case["dilation"], case["ceil_mode"])
    expected = ref_pool(case["x"], case["kernel_size"], case["stride"], case["padding"],
                        case["dilation"], case["ceil_mode"], "max")
    np.testing.assert_array_equal(out.data, expected)


@settings(max_examples=10)
@given(tst.pool_cases("max", max_side=5))
def test_cnn_max_pool2d_grad_matches_numerical(case):
    check_grad(lambda x: F.max_pool2d(x, case["kernel_size"], case["stride"], case["padding"],
                                      case["dilation"], case["ceil_mode"]), case["x"], order=2)


def test_cnn_max_pool2d_ties_send_the_whole_gradient_to_the_first_maximum():
    x = Tensor(np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [0.0, 0.0, 0.0]]]]),
               requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    # the two top windows tie at 3 and pick their first in row-major order, (0, 1) twice;
    # the bottom ones have one 3 each
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 2, 0], [1, 0, 1], [0, 0, 0]])


def test_cnn_max_pool2d_overlapping_windows_add_their_gradients():
    x = Tensor(np.array([[[[0.0, 1.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]]),
               requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    assert x.grad.data[0, 0, 1, 1] == 4 and x.grad.data.sum() == 4


def test_cnn_max_pool2d_window_of_padding_alone_is_minus_inf_with_no_gradient():
    x = Tensor(np.array([[[[5.0]]]]), requires_grad=True)
    out = F.max_pool2d(x, (2, 1), stride=1, padding=(1, 0), dilation=(2, 1))
    np.testing.assert_array_equal(out.data, [[[[-np.inf]]]])     # taps at rows -1 and 1
    out.backward(Tensor(np.ones((1, 1, 1, 1))))
    np.testing.assert_array_equal(x.grad.data, [[[[0.0]]]])


def test_cnn_max_pool2d_window_of_minus_inf_beside_padding_gets_no_gradient_in_padding():
    x = Tensor(np.full((1, 1, 2, 2), -np.inf), requires_grad=True)
    out = F.max_pool2d(x, 2, stride=1, padding=1)
    assert np.all(out.data == -np.inf)
    out.sum().backward()
    assert x.grad.shape == (1, 1, 2, 2)


@st.composite
def _tied_images(draw, shape):
    """Images of `shape` made of a few values, so windows tie: float64 or float32 with -0.0
    and +-inf (and, in half the draws, a NaN somewhere), or int32 down to its minimum (the
    padding's value)."""
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int32]))
    if dtype == np.int32:
        return draw(hnp.arrays(dtype, shape, elements=st.sampled_from(
            [np.iinfo(np.int32).min, -1, 0, 1, 2])))
    x = draw(hnp.arrays(dtype, shape, elements=st.sampled_from(
        [-np.inf, -1.0, -0.0, 0.0, 1.0, np.inf])))
    if draw(st.booleans()):
        x.flat[draw(st.integers(0, x.size - 1))] = np.nan
    return x


@given(data=st.data(), case=tst.pool_cases("max"))
def test_cnn_max_pool2d_tap_by_tap_search_matches_argmax_over_the_windows(data, case):
    """max_windows' fast path (one strided slice per tap) against its general path (argmax
    over the copied windows), forced: the same maxima and first winners, for every geometry,
    with ties, -0.0, +-inf and int32; a NaN hands the search to argmax (its first NaN)."""
    x = data.draw(_tied_images(case["x"].shape))
    (ph, pw), extra = case["padding"], data.draw(st.tuples(*[st.integers(0, 1)] * 2))
    sides = (ph, ph + extra[0], pw, pw + extra[1])       # ceil_mode's extra rows: padding too
    geometry = (case["kernel_size"], case["stride"], case["dilation"])
    low = np.iinfo(x.dtype).min if x.dtype.kind == "i" else -np.inf
    xp = ops_conv._pad(x, sides, low)
    out, best = ops_conv._max_by_argmax(xp, *geometry)
    fast = ops_conv._max_of_taps(xp, *geometry)
    assert (fast is None) == (x.dtype.kind == "f" and bool(np.isnan(out).any()))
    if fast is not None:
        np.testing.assert_array_equal(fast[0], out)      # -0.0 == 0.0: a tie of zeros
        np.testing.assert_array_equal(fast[1], best)
        assert fast[0].dtype == x.dtype and fast[1].dtype == best.dtype == np.intp
    chosen = ops_conv.max_windows(x, case["kernel_size"], case["stride"], sides,
                                  case["dilation"])
    np.testing.assert_array_equal(chosen[0], out)
    np.testing.assert_array_equal(chosen[1], best)


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 1), (2, 3)])
def test_cnn_max_pool2d_fast_path_gives_the_general_paths_values_and_gradients(
        monkeypatch, kernel, stride):
    """The CNN's case end to end (float32, ties everywhere): forcing argmax over the windows
    (no window small enough for the tap-by-tap search) changes no output, index or grad."""
    x = np.random.default_rng(0).integers(0, 4, (4, 3, 9, 10)).astype(np.float32)
    g = np.random.default_rng(1).normal(size=F.max_pool2d(Tensor(x), kernel, stride).shape)

    def run():
        t = Tensor(x, requires_grad=True)
        out, indices = F.max_pool2d(t, kernel, stride, return_indices=True)
        out.backward(Tensor(g.astype(np.float32)))
        return out.data, indices.data, t.grad.data

    fast = run()
    monkeypatch.setattr(ops_conv, "MAX_TAPS_ONE_AT_A_TIME", 0)
    for a, b in zip(fast, run(), strict=True):
        np.testing.assert_array_equal(a, b)


# ---- max_pool2d's indices and max_unpool2d ----------------------------------------------------


def _pool(case, x=None, **options):
    """F.max_pool2d with a pool_cases case's arguments, on its x (or another)."""
    return F.max_pool2d(Tensor(case["x"]) if x is None else x, case["kernel_size"],
                        case["stride"], case["padding"], case["dilation"], case["ceil_mode"],
                        **options)


def _planes(a):
    """(N, C, H, W) as (N, C, H W): indices are flat within each plane."""
    return a.reshape(a.shape[:2] + (-1,))


@given(tst.pool_cases("max"))
def test_cnn_max_pool2d_indices_name_the_elements_the_output_holds(case):
    out, indices = _pool(case, return_indices=True)
    assert indices.dtype == np.int64 and indices.shape == out.shape
    assert not indices.requires_grad
    np.testing.assert_array_equal(out.data, _pool(case).data)
    picked = np.take_along_axis(_planes(case["x"]), _planes(indices.data), axis=2)
    np.testing.assert_array_equal(picked, _planes(out.data))


@given(data=st.data(), case=tst.pool_cases("max"))
def test_cnn_max_pool2d_indices_name_the_elements_that_get_the_gradient(data, case):
    x = Tensor(case["x"], requires_grad=True)
    out, indices = _pool(case, x, return_indices=True)
    g = data.draw(tst.arrays(out.shape))
    out.backward(Tensor(g))
    expected = np.zeros(_planes(case["x"]).shape)
    n, c = np.indices(out.shape[:2], sparse=True)
    np.add.at(expected, (n[..., None], c[..., None], _planes(indices.data)), _planes(g))
    np.testing.assert_array_equal(x.grad.data, expected.reshape(x.shape))


@given(tst.pool_cases("max"))
def test_cnn_max_unpool2d_of_max_pool2d_puts_every_maximum_back_and_zeros_elsewhere(case):
    # max_unpool2d has no dilation (as PyTorch): its sizes are those of undilated windows
    case = dict(case, dilation=(1, 1))
    x = case["x"]
    out, indices = _pool(case, return_indices=True)
    back = F.max_unpool2d(out, indices, case["kernel_size"], case["stride"], case["padding"],
                          output_size=x.shape)
    winners = np.zeros(_planes(x).shape, bool)
    np.put_along_axis(winners, _planes(indices.data), True, axis=2)
    np.testing.assert_array_equal(back.data, np.where(winners.reshape(x.shape), x, 0.0))


@settings(max_examples=10)
@given(data=st.data(), case=tst.pool_cases("max", max_side=5))
def test_cnn_max_unpool2d_grad_matches_numerical(data, case):
    """First and second order, indices of overlapping windows (a repeated index) included."""
    case = dict(case, dilation=(1, 1))
    _, indices = _pool(case, return_indices=True)
    values = data.draw(tst.arrays(indices.shape))
    check_grad(lambda v: F.max_unpool2d(v, indices, case["kernel_size"], case["stride"],
                                        case["padding"], output_size=case["x"].shape) ** 2,
               values, order=2)


@settings(max_examples=10)
@given(tst.pool_cases("max", max_side=5))
def test_cnn_max_unpool2d_of_max_pool2d_grad_matches_numerical(case):
    """An element that wins two overlapping windows comes back once: its gradient too."""
    case = dict(case, dilation=(1, 1))
    geometry = (case["kernel_size"], case["stride"], case["padding"])
    check_grad(lambda x: F.max_unpool2d(*_pool(case, x, return_indices=True), *geometry,
                                        output_size=x.shape) ** 2, case["x"], order=2)


def test_cnn_max_unpool2d_third_derivative_matches_numerical():
    values = np.random.default_rng(0).normal(size=(1, 2, 2, 3))
    indices = Tensor(np.array([[[[0, 2, 3], [9, 7, 11]], [[1, 1, 4], [8, 10, 6]]]]))
    check_grad(lambda v: F.max_unpool2d(v, indices, (2, 1)) ** 3, values, order=3)  # to 4 x 3


def test_cnn_max_pool2d_indices_with_ties_and_padding_by_hand():
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [0.0, 0.0, 0.0]]]])
    # padding 1, stride 2: the windows hold (0,0) | (0,1) (0,2) tied | (1,0) (2,0) | (1,1)
    # (1,2) (2,1) (2,2); the tie names its first 3, (0, 1): index 0 * 3 + 1
    t = Tensor(x, requires_grad=True)
    out, indices = F.max_pool2d(t, 2, padding=1, return_indices=True)
    np.testing.assert_array_equal(out.data[0, 0], [[1, 3], [3, 3]])
    np.testing.assert_array_equal(indices.data[0, 0], [[0, 1], [3, 5]])
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.data[0, 0], [[1, 1, 0], [1, 0, 1], [0, 0, 0]])
    back = F.max_unpool2d(out, indices, 2, padding=1, output_size=(3, 3))
    np.testing.assert_array_equal(back.data[0, 0], [[1, 3, 0], [3, 0, 3], [0, 0, 0]])
    # stride 1: the two top windows tie at 3 and both name (0, 1), which got both gradients
    _, indices = F.max_pool2d(Tensor(x), 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(indices.data[0, 0], [[1, 1], [3, 5]])


def test_cnn_max_unpool2d_repeated_index_keeps_one_value_and_gives_it_the_gradient():
    v = Tensor(np.array([[[[4.0, 4.0, 2.0]]]]), requires_grad=True)
    out = F.max_unpool2d(v, Tensor(np.array([[[[1, 1, 2]]]])), (1, 2), stride=1)
    np.testing.assert_array_equal(out.data, [[[[0.0, 4.0, 2.0, 0.0]]]])
    out.backward(Tensor(np.array([[[[1.0, 10.0, 100.0, 1000.0]]]])))
    assert sorted(v.grad.data[0, 0, 0, :2]) == [0.0, 10.0] and v.grad.data[0, 0, 0, 2] == 100.0


def test_cnn_max_pool2d_indices_of_minus_inf_windows_name_their_first_real_element():
    out, indices = F.max_pool2d(Tensor(np.full((1, 1, 2, 2), -np.inf)), 2, stride=1, padding=1,
                                return_indices=True)
    assert np.all(out.data == -np.inf)
    np.testing.assert_array_equal(indices.data[0, 0], [[0, 0, 1], [0, 0, 1], [2, 2, 3]])


@given(tst.image_batches(max_batch=1, min_side=2, distinct=True))
def test_cnn_max_pool2d_indices_and_max_unpool2d_take_one_unbatched_image(x):
    out, indices = F.max_pool2d(Tensor(x[0]), 2, stride=1, return_indices=True)
    batched, batched_indices = F.max_pool2d(Tensor(x), 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(out.data, batched.data[0])
    np.testing.assert_array_equal(indices.data, batched_indices.data[0])
    back = F.max_unpool2d(out, indices, 2, stride=1)
    np.testing.assert_array_equal(back.data, F.max_unpool2d(batched, batched_indices, 2,
                                                            stride=1).data[0])


def test_cnn_max_pool2d_with_indices_searches_the_windows_once(monkeypatch):
    from tinygrad_edu.nn.functional import pooling as functional_conv
    from tinygrad_edu.ops import conv as ops_conv
    calls, search = [], ops_conv.max_windows

    def counted(*args, **kwargs):
        calls.append(1)
        return search(*args, **kwargs)

    monkeypatch.setattr(ops_conv, "max_windows", counted, raising=True)
    monkeypatch.setattr(functional_conv, "max_windows", counted, raising=True)
    F.max_pool2d(Tensor(np.ones((1, 1, 4, 4)), requires_grad=True), 2, return_indices=True)
    assert len(calls) == 1


def test_cnn_max_pool2d_indices_under_no_grad_and_of_an_empty_batch():
    with no_grad():
        out, indices = F.max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4),
                                           requires_grad=True), 2, return_indices=True)
    assert out.grad_fn is None and indices.data.tolist() == [[[[5, 7], [13, 15]]]]
    out, indices = F.max_pool2d(Tensor(np.zeros((0, 2, 5, 5))), 2, return_indices=True)
    assert indices.shape == (0, 2, 2, 2)
    assert F.max_unpool2d(out, indices, 2, output_size=(5, 5)).shape == (0, 2, 5, 5)


def test_cnn_max_pool2d_indices_refuse_a_window_of_padding_alone():
    x = Tensor(np.array([[[[5.0]]]]))
    with pytest.raises(ValueError, match=r"max_pool2d: with kernel_size \(2, 1\), stride "
                                         r"\(1, 1\), padding \(1, 0\) and dilation \(2, 1\), "
                                         r"a window of the input \(1, 1, 1, 1\) holds padding "
                                         r"alone.*lower the padding or the dilation"):
        F.max_pool2d(x, (2, 1), stride=1, padding=(1, 0), dilation=(2, 1), return_indices=True)


def test_cnn_max_unpool2d_errors_name_the_op_the_shapes_and_the_fix():
    out, indices = F.max_pool2d(Tensor(np.arange(25.0).reshape(1, 1, 5, 5)), 2,
                                return_indices=True)
    with pytest.raises(ShapeError, match=r"max_unpool2d: indices of shape \(1, 2, 2\) must "
                                         r"have the input's shape \(1, 1, 2, 2\)"):
        F.max_unpool2d(out, indices[0], 2)
    with pytest.raises(DtypeError, match=r"max_unpool2d: indices must be integers, got dtype "
                                         r"float64.*indices.astype\(np.int64\)"):
        F.max_unpool2d(out, indices.astype(np.float64), 2)
    with pytest.raises(TypeError, match=r"max_unpool2d: indices must be a Tensor"):
        F.max_unpool2d(out, indices.data, 2)
    # 5 x 5 pooled by 2 is 2 x 2, which unpools to 4 x 4 by default: index 18 does not fit
    with pytest.raises(ValueError, match=r"max_unpool2d: indices must lie in \[0, 15\] for "
                                         r"output planes of size \(4, 4\), got values in "
                                         r"\[6, 18\]; pass output_size="):
        F.max_unpool2d(out, indices, 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: indices must lie in \[0, 24\]"):
        F.max_unpool2d(out, Tensor(-indices.data), 2, output_size=(5, 5))
    with pytest.raises(ValueError, match=r"max_unpool2d: output_size \(6, 5\) does not fit: "
                                         r".*unpools to \(4, 4\), and each side must lie "
                                         r"strictly between \(2, 2\) and \(6, 6\)"):
        F.max_unpool2d(out, indices, 2, output_size=(6, 5))
    with pytest.raises(TypeError, match=r"max_unpool2d: output_size must be \(H, W\)"):
        F.max_unpool2d(out, indices, 2, output_size=(5,))
    with pytest.raises(ValueError, match=r"max_unpool2d: stride must be >= 1, got 0"):
        F.max_unpool2d(out, indices, 2, stride=0)
    assert F.max_unpool2d(out, indices, 2, output_size=(1, 1, 5, 5)).data[0, 0, 3, 3] == 18


@pytest.mark.parametrize("count_include_pad", [True, False])
@given(case=tst.pool_cases("avg"))
def test_cnn_avg_pool2d_matches_loops(case, count_include_pad):
    out = F.avg_pool2d(Tensor(case["x"]), case["kernel_size"], case["stride"], case["padding"],
                       case["ceil_mode"], count_include_pad)
    expected = ref_pool(case["x"], case["kernel_size"], case["stride"], case["padding"],
                        (1, 1), case["ceil_mode"], "avg", count_include_pad)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=10)
@given(tst.pool_cases("avg", max_side=5))
def test_cnn_avg_pool2d_grad_matches_numerical(case):
    check_grad(lambda x: F.avg_pool2d(x, case["kernel_size"], case["stride"], case["padding"],
                                      case["ceil_mode"], False) ** 2, case["x"], order=2)


def test_cnn_avg_pool2d_divisor_override():
    x = Tensor(np.ones((1, 1, 4, 4)))
    np.testing.assert_array_equal(F.avg_pool2d(x, 2, divisor_override=1).data, 4)


def test_cnn_pool_errors():
    x = Tensor(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) must be at most half"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(ShapeError, match=r"avg_pool2d: input \(1, 1, 4, 4\) padded by"):
        F.avg_pool2d(x, 5)
    with pytest.raises(ValueError, match=r"avg_pool2d: divisor_override must be a positive"):
        F.avg_pool2d(x, 2, divisor_override=0)


# ---- padding -----------------------------------------------------------------------------------

NUMPY_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}


@pytest.mark.parametrize("mode", list(NUMPY_MODES))
@given(x=tst.arrays(shape=tst.shapes(min_dims=2, max_dims=3, min_side=3, max_side=4)),
       widths=st.lists(st.integers(0, 2), min_size=2, max_size=4).filter(lambda v: len(v) % 2
                                                                         == 0))
def test_cnn_pad_matches_numpy_pad_and_grad_matches_numerical(mode, x, widths):
    pairs = [(widths[2 * i], widths[2 * i + 1]) for i in range(len(widths) // 2)][::-1]
    full = [(0, 0)] * (x.ndim - len(pairs)) + pairs
    out = F.pad(Tensor(x), tuple(widths), mode=mode)
    np.testing.assert_array_equal(out.data, np.pad(x, full, mode=NUMPY_MODES[mode]))
    check_grad(lambda t: F.pad(t, tuple(widths), mode=mode) ** 2, x, order=2)


def test_cnn_pad_constant_value_and_errors():
    x = Tensor(np.zeros((2, 2)))
    assert F.pad(x, (1, 0), value=7.0).data[0, 0] == 7.0
    with pytest.raises(ValueError, match=r"pad: pad must hold an even number of ints"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"pad: negative padding"):
        F.pad(x, (-1, 0))
    with pytest.raises(ValueError, match=r"pad: reflect padding of \(2, 0\) needs a dim of "):
        F.pad(x, (2, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: mode must be 'constant'"):
        F.pad(x, (1, 1), mode="mirror")


# ---- erf and softplus ---------------------------------------------------------------------------


@given(tst.arrays(max_value=4.0, min_value=-4.0))
def test_cnn_erf_matches_math_erf_and_grad_matches_numerical(x):
    import math
    out = ops.Erf.apply(Tensor(x))
    np.testing.assert_array_equal(out.data, np.vectorize(math.erf, otypes=[float])(x))
    check_grad(lambda t: ops.Erf.apply(t), x, order=2)


@given(tst.arrays())
def test_cnn_softplus_grad_matches_numerical(x):
    check_grad(lambda t: F.softplus(t, beta=1.5), x, order=2)


def test_cnn_softplus_does_not_overflow_and_is_linear_past_the_threshold():
    x = Tensor(np.array([-1000.0, 0.0, 19.0, 21.0, 1000.0]), requires_grad=True)
    out = F.softplus(x)
    np.testing.assert_allclose(out.data, [0.0, np.log(2), np.log1p(np.exp(19.0)), 21, 1000])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.5, 1 / (1 + np.exp(-19.0)), 1, 1])


def test_cnn_conv_and_pools_take_an_empty_batch():
    x = Tensor(np.zeros((0, 2, 5, 5)), requires_grad=True)
    w = Tensor(np.ones((4, 1, 3, 3)), requires_grad=True)
    out = F.conv2d(x, w, groups=2)
    assert out.shape == (0, 4, 3, 3)
    out.sum().backward()
    assert x.grad.shape == (0, 2, 5, 5) and np.all(w.grad.data == 0)
    assert F.max_pool2d(x, 2).shape == F.avg_pool2d(x, 2).shape == (0, 2, 2, 2)
