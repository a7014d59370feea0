"""Reductions (sum, mean, max, min, softmax, log_softmax): values, gradients, identities."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Tensor, grad, ops
from tinygrad_edu.errors import DimError
from tinygrad_edu.testing import assert_grads_close, check_grad
from tinygrad_edu.testing import strategies as tst

from ..twins import GRAD_SIZE

SUM_LIKE = {"sum": np.sum, "mean": np.mean}
MAX_LIKE = {"amax": np.max, "amin": np.min}  # values over any dims (max(dim) adds indices)


def _np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@st.composite
def array_and_dim(draw, one_dim=False, array=tst.arrays, **options):
    """An array and a valid `dim` for it (one int if `one_dim`, else any reduction dim)."""
    x = draw(array(min_dims=1 if one_dim else 0, **options))
    dim = draw(st.integers(-x.ndim, x.ndim - 1) if one_dim else tst.reduction_dims(x.ndim))
    return x, dim


# ---- sum and mean ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SUM_LIKE)
@given(case=array_and_dim(), keepdim=st.booleans())
def test_sum_and_mean_match_numpy(name, case, keepdim):
    x, dim = case
    out = getattr(Tensor(x), name)(dim, keepdim=keepdim)
    expected = SUM_LIKE[name](x, axis=dim, keepdims=keepdim)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SUM_LIKE)
@given(case=array_and_dim(**GRAD_SIZE), keepdim=st.booleans())
def test_sum_and_mean_grad_and_second_derivative_match_numerical(name, case, keepdim):
    x, dim = case
    # squared, so the second derivative runs through the backward of the reduction's backward
    check_grad(lambda t: getattr(t, name)(dim, keepdim=keepdim) ** 2, x, order=2)


@given(case=array_and_dim())
def test_mean_grad_is_one_over_the_count(case):
    x, dim = case
    t = Tensor(x, requires_grad=True)
    out = t.mean(dim)
    out.sum().backward()
    np.testing.assert_allclose(t.grad.data, np.full(x.shape, out.data.size / x.size),
                               rtol=1e-12)


def test_sum_of_a_0d_tensor_is_itself():
    x = Tensor(np.array(2.5), requires_grad=True)
    out = x.sum()
    out.backward()
    assert out.shape == () and out.item() == 2.5 and x.grad.item() == 1.0


def test_sum_over_an_empty_tuple_of_dims_changes_nothing():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = x.sum(dim=())
    np.testing.assert_array_equal(out.data, x.data)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))


def integer_arrays(**shape_options):
    """Integer and bool arrays of any value (their means are float64)."""
    dtypes = st.sampled_from([np.int8, np.int32, np.int64, np.uint8, np.bool_])
    return hnp.arrays(dtypes, tst.shapes(**shape_options))


@given(case=array_and_dim(array=integer_arrays), keepdim=st.booleans())
def test_mean_of_integers_and_bools_is_numpys_float64_mean(case, keepdim):
    x, dim = case
    out = Tensor(x).mean(dim, keepdim=keepdim)
    expected = np.mean(x, axis=dim, keepdims=keepdim)
    assert out.dtype == np.float64 and out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-15, atol=0)


def test_mean_is_one_op_whose_rule_is_sums_over_n():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = x.mean(1)
    assert type(out._ctx) is ops.Mean and out._ctx.inputs == (x,)
    (g,) = grad(out.sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, np.full((2, 3), 1 / 3))


def test_mean_keeps_float32():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    out = x.mean(dim=1)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


@given(x=tst.distinct_arrays((4, 3)), correction=st.sampled_from([0, 1]))
def test_std_of_equal_values_is_zero_with_gradient_zero(x, correction):
    # regression: std over a column of equal values gave the gradient 0 * inf = NaN; it is 0
    # (PyTorch's choice; the central difference is 0 too, std(c + e) = std(c - e)), and the
    # other columns keep their gradient (x - mean) / ((N - correction) std)
    x = x.copy()
    x[:, 1] = x[0, 1]
    t = Tensor(x, requires_grad=True)
    out = t.std(0, correction=correction)
    assert out.data[1] == 0.0
    (g,) = grad(out.sum(), t, create_graph=True)
    dev = x - x.mean(0)
    std = np.sqrt((dev ** 2).sum(0) / (4 - correction))
    expected = np.divide(dev, (4 - correction) * std, out=np.zeros_like(x), where=std > 0)
    np.testing.assert_allclose(g.data, expected, rtol=1e-9, atol=1e-12)
    (gg,) = grad((g * g).sum(), t)
    assert np.isfinite(gg.data).all() and (gg.data[:, 1] == 0).all()
    check_grad(lambda a: a.std(0, correction=correction), x)


# ---- max and min ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MAX_LIKE)
@given(case=array_and_dim(array=tst.distinct_arrays), keepdim=st.booleans())
def test_max_and_min_match_numpy(name, case, keepdim):
    x, dim = case
    out = getattr(Tensor(x), name)(dim, keepdim=keepdim)
    expected = MAX_LIKE[name](x, axis=dim, keepdims=keepdim)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)


@pytest.mark.parametrize("name", MAX_LIKE)
@given(case=array_and_dim(array=tst.distinct_arrays, **GRAD_SIZE), keepdim=st.booleans())
def test_max_and_min_grad_and_second_derivative_match_numerical(name, case, keepdim):
    x, dim = case
    check_grad(lambda t: getattr(t, name)(dim, keepdim=keepdim) ** 2, x, order=2)


def test_max_and_min_of_an_empty_tensor_over_a_dim_that_has_elements_are_empty():
    # numpy's rule: only a max over no elements has no value (test_errors has that case)
    x = Tensor(np.ones((0, 3), np.float32), requires_grad=True)
    assert x.max(1).values.shape == (0,) and x.min(1, keepdim=True).values.shape == (0, 1)
    x.amax(1).sum().backward()
    assert x.grad.shape == (0, 3) and x.grad.dtype == np.float32


def test_max_ties_split_the_gradient_evenly():
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 0.5, 0.0])


def test_max_ties_split_per_row_along_dim():
    x = Tensor([[5.0, 5.0, 5.0], [1.0, 4.0, 4.0], [0.0, -1.0, 2.0]], requires_grad=True)
    x.max(dim=1).values.sum().backward()
    assert_grads_close(x.grad, [[1 / 3, 1 / 3, 1 / 3], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])


def test_min_ties_split_the_gradient_evenly():
    x = Tensor([[2.0, -1.0], [-1.0, 7.0]], requires_grad=True)
    x.min().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.5], [0.5, 0.0]])


@pytest.mark.parametrize("name", ["max", "min"])
def test_a_nan_is_the_max_and_min_and_takes_the_gradient(name):
    # regression: the result is the NaN, but NaN != NaN found no winner, so no element got
    # the gradient; it goes to the NaN (split between NaNs), as PyTorch's max() and max(dim)
    x = Tensor([[1.0, np.nan, 2.0, np.nan], [4.0, 3.0, 0.0, 3.0]], requires_grad=True)
    getattr(x, name)().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.5, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
    x.grad = None
    values, indices = getattr(x, name)(1)
    values.sum().backward()
    assert indices.tolist() == [1, 0 if name == "max" else 2]
    winner = 0.0 if name == "max" else 1.0
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.5, 0.0, 0.5], [1 - winner, 0.0,
                                                                      winner, 0.0]])


@given(x=tst.arrays(min_dims=1))
def test_max_grad_sums_to_the_number_of_maxima_taken(x):
    t = Tensor(x, requires_grad=True)
    out = t.amax(dim=0)
    out.sum().backward()
    np.testing.assert_allclose(t.grad.data.sum(), out.data.size, rtol=1e-12)


@pytest.mark.parametrize("name", ["max", "min"])
@given(case=array_and_dim(array=tst.distinct_arrays, one_dim=True), keepdim=st.booleans())
def test_trust_15_max_and_min_along_a_dim_give_values_and_indices_as_pytorch(name, case, keepdim):
    x, dim = case
    values, indices = getattr(Tensor(x), name)(dim, keepdim=keepdim)
    np.testing.assert_array_equal(values.data, MAX_LIKE["a" + name](x, axis=dim,
                                                                    keepdims=keepdim))
    arg = np.argmax if name == "max" else np.argmin
    np.testing.assert_array_equal(indices.data, arg(x, axis=dim, keepdims=keepdim))
    result = getattr(Tensor(x), name)(dim)
    assert result.indices is result[1] and result.values is result[0]


def test_trust_15_the_values_indices_pair_is_no_tensor_operand():
    x = Tensor([[1.0, 5.0], [7.0, 2.0]])
    with pytest.raises(TypeError, match=r"max\(dim\) and min\(dim\) return.*\.values"):
        x - x.max(1, keepdim=True)


@given(case=array_and_dim(one_dim=True), keepdim=st.booleans())
def test_argmax_matches_numpy_and_records_nothing(case, keepdim):
    x, dim = case
    t = Tensor(x, requires_grad=True)
    out = t.argmax(dim, keepdim=keepdim)
    np.testing.assert_array_equal(out.data, np.argmax(x, axis=dim, keepdims=keepdim))
    assert out.dtype.kind == "i" and not out.requires_grad
    assert t.argmax().item() == np.argmax(x)
    np.testing.assert_array_equal(t.argmin(dim, keepdim=keepdim).data,
                                  np.argmin(x, axis=dim, keepdims=keepdim))


# ---- softmax and log_softmax ----------------------------------------------------------------


@given(case=array_and_dim(one_dim=True))
def test_softmax_and_log_softmax_match_numpy(case):
    x, dim = case
    np.testing.assert_allclose(Tensor(x).softmax(dim).data, _np_softmax(x, dim), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(Tensor(x).log_softmax(dim).data, _np_log_softmax(x, dim),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(case=array_and_dim(one_dim=True, **GRAD_SIZE))
def test_softmax_grad_and_second_derivative_match_numerical(name, case):
    x, dim = case
    check_grad(lambda t: getattr(t, name)(dim), x, order=2)


@given(case=array_and_dim(one_dim=True))
def test_softmax_rows_sum_to_one(case):
    x, dim = case
    out = Tensor(x).softmax(dim)
    assert (out.data >= 0).all()
    np.testing.assert_allclose(out.data.sum(axis=dim), 1.0, rtol=1e-12)


@given(case=array_and_dim(one_dim=True))
def test_softmax_grad_of_the_sum_of_outputs_is_zero(case):
    x, dim = case
    t = Tensor(x, requires_grad=True)
    t.softmax(dim).sum().backward()
    np.testing.assert_allclose(t.grad.data, 0.0, atol=1e-12)


@given(case=array_and_dim(one_dim=True))
def test_log_softmax_equals_log_of_softmax(case):
    x, dim = case
    t = Tensor(x, requires_grad=True)
    np.testing.assert_allclose(t.log_softmax(dim).data, t.softmax(dim).log().data,
                               rtol=1e-10, atol=1e-10)


@given(case=array_and_dim(one_dim=True, **GRAD_SIZE))
def test_log_softmax_grad_equals_grad_of_log_softmax_composed(case):
    x, dim = case
    v = np.cos(np.arange(x.size)).reshape(x.shape)  # any fixed weights
    fused = Tensor(x, requires_grad=True)
    composed = Tensor(x, requires_grad=True)
    (fused.log_softmax(dim) * Tensor(v)).sum().backward()
    (composed.softmax(dim).log() * Tensor(v)).sum().backward()
    assert_grads_close(fused.grad, composed.grad, atol=1e-10)


@given(shift=st.floats(-5.0, 5.0), case=array_and_dim(one_dim=True))
def test_softmax_ignores_a_constant_shift(shift, case):
    x, dim = case
    np.testing.assert_allclose(Tensor(x + shift).softmax(dim).data,
                               Tensor(x).softmax(dim).data, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_is_stable_where_the_naive_form_overflows(dtype):
    logits = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 999.0]], dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # the naive form overflows, on purpose
        naive = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert not np.isfinite(naive).all()
    t = Tensor(logits, requires_grad=True)
    out = t.log_softmax(dim=1)
    expected = [[0.0, -1000.0, -2000.0],
                [-np.log(2 + np.exp(-1.0)), -np.log(2 + np.exp(-1.0)),
                 -1.0 - np.log(2 + np.exp(-1.0))]]
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    out[:, 0].sum().backward()
    assert np.isfinite(t.grad.data).all()
    probs = t.softmax(dim=1).data
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def test_softmax_of_equal_logits_is_uniform():
    out = Tensor(np.zeros((2, 4))).softmax(dim=-1)
    np.testing.assert_array_equal(out.data, np.full((2, 4), 0.25))


@pytest.mark.parametrize("name, value, slope, dim", [
    (name, value, slope, dim)
    for name, value, slope in [("sum", 1.5, 1.0), ("mean", 1.5, 1.0), ("amax", 1.5, 1.0),
                               ("amin", 1.5, 1.0), ("logsumexp", 1.5, 1.0)]
    for dim in (0, -1, (0,))] + [
    (name, value, 0.0, dim) for name, value in [("softmax", 1.0), ("log_softmax", 0.0)]
    for dim in (0, -1)])
def test_dim_0_of_a_0d_tensor_names_its_one_element_as_in_pytorch(name, value, slope, dim):
    # PyTorch accepts dim 0 (or -1) on a 0-d tensor: a reduction over one element, or a
    # softmax over one class; numpy has no axis there
    x = Tensor(np.array(1.5), requires_grad=True)
    out = getattr(x, name)(dim)
    (out * 3).backward()
    assert out.shape == () and out.item() == value and x.grad.item() == 3 * slope


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_argmax_along_dim_0_of_a_0d_tensor(name):
    x = Tensor(np.array(2.5), requires_grad=True)
    values, indices = getattr(x, name)(0)
    values.backward()
    assert (values.item(), indices.item(), indices.shape, x.grad.item()) == (2.5, 0, (), 1.0)
    assert getattr(x, f"arg{name}")(-1, keepdim=True).item() == 0
    with pytest.raises(DimError, match="out of range"):
        x.sum(1)
