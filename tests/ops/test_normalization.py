"""BatchNorm, batch normalisation in training as one op, against the formula composed from
Tensor ops: values, first and second derivatives, numerical gradients, constant channels."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, grad, ops
from tinygrad_edu.errors import ShapeError
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import assert_grads_close, check_grad
from tinygrad_edu.testing import strategies as tst

EPS = 1e-5
# Which of weight and bias F.batch_norm gets: each of the four cases (a bias alone reaches the
# op with a constant weight of ones).
AFFINE = [(False, False), (True, False), (False, True), (True, True)]


def composed_batch_norm(x, weight=None, bias=None, eps=EPS):
    """The textbook formula from Tensor ops (F.batch_norm's training path before BatchNorm):
    every step recorded, the backward pass whatever the engine composes from their rules."""
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    centred = x - x.mean(dims, keepdim=True)
    out = centred / ((centred * centred).mean(dims, keepdim=True) + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def fused_batch_norm(x, weight=None, bias=None, eps=EPS):
    return F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)


# Values on a grid of quarters: a channel is either exactly constant (var = 0, which eps keeps
# finite) or has var >= 0.0625 / M, far above eps. Near-constant channels (var ~ 1e-30) make
# 1/sqrt(var + eps) amplify each implementation's rounding differently; they are tested for
# finiteness and against numerical gradients, not for agreement to many digits.
QUARTERS = st.integers(-12, 12).map(lambda k: k / 4)
FACTORS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


def batch_shapes(max_side: int = 4):
    """(N, C), (N, C, L) and (N, C, H, W) with N >= 2: more than one value per channel."""
    rest = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=max_side)
    return st.tuples(st.integers(2, max_side), rest).map(lambda parts: (parts[0], *parts[1]))


@st.composite
def batches(draw, max_side: int = 4, elements=QUARTERS):
    """x on the grid, weight and bias of shape (C,), and an incoming gradient shaped like x."""
    shape = draw(batch_shapes(max_side))
    x = draw(hnp.arrays(np.float64, shape, elements=elements))
    weight, bias = (draw(hnp.arrays(np.float64, (shape[1],), elements=FACTORS))
                    for _ in range(2))
    return x, weight, bias, draw(hnp.arrays(np.float64, shape, elements=FACTORS))


def _leaves(x, weight, bias, affine):
    """Fresh leaves: x, and weight and bias where `affine` asks for them (else None)."""
    return [Tensor(a, requires_grad=True) if use else None
            for a, use in zip((x, weight, bias), (True, *affine), strict=True)]


def _grads(fn, x, weight, bias, affine, v):
    leaves = _leaves(x, weight, bias, affine)
    given_ = [t for t in leaves if t is not None]
    return grad(fn(*leaves), given_, grad_outputs=Tensor(v))


def _second_derivatives(fn, x, weight, bias, affine, v, seed=0):
    """d/d(x, weight, bias, v) of sum(u * first derivatives), with the first derivatives
    recorded under create_graph=True: v (the incoming gradient) is an input too."""
    leaves = _leaves(x, weight, bias, affine)
    given_ = [t for t in leaves if t is not None]
    v = Tensor(v, requires_grad=True)
    firsts = grad(fn(*leaves), given_, grad_outputs=v, create_graph=True)
    rng = np.random.default_rng(seed)
    total = sum((f * Tensor(rng.uniform(-1, 1, f.shape))).sum() for f in firsts)
    seconds = grad(total, [*given_, v], allow_unused=True)
    return [np.zeros(t.shape) if s is None else s.data  # None: no path (bias to firsts)
            for s, t in zip(seconds, [*given_, v], strict=True)]


def _close(actual, expected, rtol=1e-8):
    for a, e in zip(actual, expected, strict=True):
        e = np.asarray(e.data if isinstance(e, Tensor) else e)
        scale = 1 + float(np.abs(e).max(initial=0))
        assert_grads_close(a, e, atol=1e-9 * scale, rtol=rtol)


# ---- against the composed formula ------------------------------------------------------------


@pytest.mark.parametrize("affine", AFFINE)
@given(case=batches())
def test_batch_norm_values_match_the_composed_formula(affine, case):
    x, weight, bias, _ = case
    args = [Tensor(a) if use else None for a, use in zip((weight, bias), affine, strict=True)]
    out = fused_batch_norm(Tensor(x), *args)
    expected = composed_batch_norm(Tensor(x), *args)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-12, atol=1e-12)


@given(x=tst.arrays(shape=batch_shapes()))
def test_batch_norm_values_match_the_composed_formula_for_any_floats(x):
    # off the grid, a near-constant channel's rounding is amplified up to 1/sqrt(eps) ~ 316
    out = fused_batch_norm(Tensor(x))
    np.testing.assert_allclose(out.data, composed_batch_norm(Tensor(x)).data, atol=1e-10)


@pytest.mark.parametrize("affine", AFFINE)
@given(case=batches())
def test_batch_norm_grads_match_the_composed_formula(affine, case):
    x, weight, bias, v = case
    _close(_grads(fused_batch_norm, x, weight, bias, affine, v),
           _grads(composed_batch_norm, x, weight, bias, affine, v))


@pytest.mark.parametrize("affine", AFFINE)
@given(case=batches(max_side=3))
def test_batch_norm_second_derivatives_match_the_composed_formula(affine, case):
    x, weight, bias, v = case
    _close(_second_derivatives(fused_batch_norm, x, weight, bias, affine, v),
           _second_derivatives(composed_batch_norm, x, weight, bias, affine, v), rtol=1e-7)


# ---- against numerical gradients (float64) ---------------------------------------------------


@st.composite
def small_batches(draw):
    """(N, C) or (N, C, H, W) with few elements: every one costs central differences."""
    spatial = draw(st.sampled_from([(), (1, 2), (2, 2)]))
    shape = (draw(st.integers(2, 3)), draw(st.integers(1, 2)), *spatial)
    return draw(hnp.arrays(np.float64, shape, elements=tst.floats(np.float64, -3.0, 3.0)))


@pytest.mark.parametrize("affine", AFFINE)
@given(x=small_batches())
def test_batch_norm_first_and_second_derivatives_match_numerical(affine, x):
    c = x.shape[1]
    params = [p for p, use in zip((np.linspace(0.5, 1.5, c), np.linspace(-1, 1, c)), affine,
                                  strict=True) if use]

    def fn(t, *given_):
        it = iter(given_)
        weight, bias = (next(it) if use else None for use in affine)
        return fused_batch_norm(t, weight, bias) ** 2   # squared: second derivatives bite

    check_grad(fn, x, *params, order=2)


# ---- constant channels, identities -----------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (3, 3, 2, 2)])
def test_a_constant_channel_is_finite_the_bias_and_checks_numerically(shape):
    x = np.random.default_rng(0).normal(size=shape)
    x[:, 1] = 2.5                                      # channel 1: var = 0
    w, b = np.array([0.5, 2.0, -1.0]), np.array([0.1, -0.3, 0.7])
    out = fused_batch_norm(Tensor(x), Tensor(w), Tensor(b))
    assert np.isfinite(out.data).all()
    np.testing.assert_array_equal(out.data[:, 1], -0.3)  # xhat = 0: only the bias is left
    v = np.random.default_rng(1).normal(size=shape)
    dx, dw, db = _grads(fused_batch_norm, x, w, b, (True, True), v)
    # dx = w (g - mean(g)) / sqrt(eps) on the constant channel (docs/derivations.md)
    g = v[:, 1]
    np.testing.assert_allclose(dx.data[:, 1], 2.0 * (g - g.mean()) / np.sqrt(EPS), rtol=1e-9)
    assert dw.data[1] == 0
    _close((dx, dw, db), _grads(composed_batch_norm, x, w, b, (True, True), v))
    check_grad(lambda t, w_, b_: fused_batch_norm(t, w_, b_) ** 2, x, w, b, order=2)


@given(case=batches())
def test_batch_norm_input_grad_sums_to_zero_per_channel(case):
    # adding a constant to a channel changes no xhat, so the gradient has no such component
    x, weight, bias, v = case
    dx = _grads(fused_batch_norm, x, weight, bias, (True, True), v)[0].data
    sums = np.moveaxis(dx, 1, 0).reshape(x.shape[1], -1).sum(axis=1)
    np.testing.assert_allclose(sums, 0, atol=1e-9 * (1 + np.abs(dx).max()))


@given(case=batches())
def test_batch_norm_float32_stays_float32(case):
    x, weight, bias, v = (a.astype(np.float32) for a in case)
    leaves = [Tensor(a, requires_grad=True) for a in (x, weight, bias)]
    out = fused_batch_norm(*leaves)
    out.backward(Tensor(v))
    assert out.dtype == np.float32
    assert [t.grad.dtype for t in leaves] == [np.float32] * 3
    expected = composed_batch_norm(*(Tensor(a) for a in (x, weight, bias)))
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-4, atol=1e-4)


# ---- F.batch_norm uses the op in training -----------------------------------------------------


def test_training_batch_norm_is_one_batch_norm_op_and_eval_stays_composed():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    w, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.zeros(3), requires_grad=True)
    out = F.batch_norm(x, None, None, w, b, training=True)
    assert type(out._ctx) is ops.BatchNorm
    assert out._ctx.inputs == (x, w, b)
    only_bias = F.batch_norm(x, None, None, None, b, training=True)
    assert type(only_bias._ctx) is ops.BatchNorm and only_bias._ctx.inputs[2] is b
    mean, var = Tensor(np.zeros(3)), Tensor(np.ones(3))
    assert type(F.batch_norm(x, mean, var, w, b)._ctx) is not ops.BatchNorm


@given(case=batches(), momentum=st.floats(0.0, 1.0))
def test_training_batch_norm_updates_the_running_statistics(case, momentum):
    x = case[0]
    axes = (0,) + tuple(range(2, x.ndim))
    start = np.linspace(-1, 1, x.shape[1])
    mean, var = Tensor(start.copy()), Tensor(start + 2)
    F.batch_norm(Tensor(x), mean, var, training=True, momentum=momentum)
    np.testing.assert_allclose(mean.data, (1 - momentum) * start + momentum * x.mean(axis=axes),
                               atol=1e-12)
    np.testing.assert_allclose(var.data, (1 - momentum) * (start + 2)
                               + momentum * x.var(axis=axes, ddof=1), atol=1e-12)


# ---- errors ----------------------------------------------------------------------------------


def test_batch_norm_op_errors_name_the_op_and_the_shapes():
    with pytest.raises(ShapeError, match=r"batch_norm: input of shape \(3,\) has no channel "
                                         r"dim or no values; pass \(N, C\)"):
        ops.BatchNorm.apply(Tensor(np.ones(3)))
    with pytest.raises(ShapeError, match=r"batch_norm: input of shape \(0, 2\) has no channel"):
        ops.BatchNorm.apply(Tensor(np.ones((0, 2))))
    with pytest.raises(ShapeError, match=r"batch_norm: weight of shape \(2,\) for input "
                                         r"\(4, 3\); give one value per channel, shape \(3,\)"):
        ops.BatchNorm.apply(Tensor(np.ones((4, 3))), Tensor(np.ones(2)))
    with pytest.raises(ShapeError, match=r"batch_norm: bias of shape \(3, 1\) for input"):
        ops.BatchNorm.apply(Tensor(np.ones((4, 3))), Tensor(np.ones(3)), Tensor(np.ones((3, 1))))
