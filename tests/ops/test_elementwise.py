"""Elementwise ops: values match numpy, gradients match central differences, broadcasting."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, grad, maximum, minimum, where
from tinygrad_edu.testing import assert_grads_close, check_grad, gradcheck
from tinygrad_edu.testing import strategies as tst

from ..twins import BINARY, GRAD_SIZE, UNARY

ALL = UNARY + BINARY


# ---- the twin catalogue: every entry's values, gradients and second derivatives -------------


@pytest.mark.parametrize("twin", ALL, ids=repr)
@given(data=st.data())
def test_twin_forward_matches_numpy_in_float64_and_float32(twin, data):
    arrays = data.draw(twin.inputs())
    out = twin.tensor(*(Tensor(a) for a in arrays))
    expected = twin.numpy(*arrays)
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14)
    leaves = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out32 = twin.tensor(*leaves)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, expected, rtol=1e-5, atol=1e-5)
    out32.sum().backward()  # gradients come back summed to each input's shape and dtype
    for leaf in leaves:
        assert leaf.grad.shape == leaf.shape and leaf.grad.dtype == np.float32


@pytest.mark.parametrize("twin", ALL, ids=repr)
@given(data=st.data())
def test_twin_grad_matches_numerical(twin, data):
    """gradcheck every twin; gradgradcheck those whose second derivative is non-zero."""
    check_grad(twin.tensor, *data.draw(twin.inputs(**GRAD_SIZE)),
               order=2 if twin.second_order else 1)


# ---- broadcasting ---------------------------------------------------------------------------


@given(arrays=tst.broadcastable_arrays(2))
def test_add_grad_counts_how_often_each_element_was_broadcast(arrays):
    x, y = (Tensor(a, requires_grad=True) for a in arrays)
    out = x + y
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full(x.shape, out.data.size / x.data.size))
    np.testing.assert_array_equal(y.grad.data, np.full(y.shape, out.data.size / y.data.size))


@given(arrays=tst.broadcastable_arrays(3, min_magnitude=0.5, **GRAD_SIZE))
def test_three_way_broadcast_grad_matches_numerical(arrays):
    assert gradcheck(lambda x, y, z: x * y / z + z, arrays)


@given(x=tst.arrays(min_dims=1), number=tst.floats(min_magnitude=0.5))
def test_python_numbers_on_either_side_match_numpy(x, number):
    t = Tensor(x)
    pairs = [(t + number, x + number), (number + t, number + x), (t - number, x - number),
             (number - t, number - x), (t * number, x * number), (number * t, number * x),
             (t / number, x / number), (-t, -x)]
    for out, expected in pairs:
        np.testing.assert_allclose(out.data, expected, rtol=1e-12)


def test_numbers_keep_the_tensors_float32():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    for out in (x + 1.5, 2 * x, x / 3, 1 - x, x ** 2, 2.0 ** x, x.maximum(0.5), x.clamp(0, 1)):
        assert out.dtype == np.float32


def test_numpy_array_on_the_left_calls_the_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    out = np.array([3.0, 4.0]) * x
    assert isinstance(out, Tensor)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


# ---- kinks and ties: the documented choices -------------------------------------------------


def test_relu_grad_at_zero_is_zero():
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])


def test_abs_grad_is_the_sign_and_zero_at_zero():
    x = Tensor([-2.0, 0.0, 3.0], requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [-1.0, 0.0, 1.0])


def test_clamp_grad_is_one_inside_and_at_the_bounds_zero_outside():
    x = Tensor([-2.0, -1.0, 0.5, 1.0, 3.0], requires_grad=True)
    x.clamp(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("fn", [maximum, minimum], ids=["maximum", "minimum"])
def test_elementwise_ties_split_the_gradient_evenly(fn):
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Tensor([1.0, 5.0, 0.0], requires_grad=True)
    fn(x, y).sum().backward()
    winner_x = [0.5, 0.0, 1.0] if fn is maximum else [0.5, 1.0, 0.0]
    np.testing.assert_array_equal(x.grad.data, winner_x)
    np.testing.assert_array_equal(y.grad.data, 1 - np.array(winner_x))


def test_maximum_of_a_tensor_with_itself_passes_the_whole_gradient():
    x = Tensor([1.0, -2.0], requires_grad=True)
    maximum(x, x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_where_grad_goes_to_the_chosen_side_only():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    where(np.array([True, False, True]), x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(y.grad.data, [0.0, 1.0, 0.0])


def test_where_broadcasts_a_number_and_a_tensor_condition():
    x = Tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    out = where(x > 0, x, 0.0)
    np.testing.assert_array_equal(out.data, [[1.0, 0.0], [0.0, 4.0]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0, 0.0], [0.0, 1.0]])


# ---- stability and special values -----------------------------------------------------------


def test_sigmoid_is_stable_for_huge_inputs():
    x = Tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would raise here
        out = x.sigmoid()
        out.sum().backward()
    np.testing.assert_array_equal(out.data, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.25, 0.0])


def test_pow_with_exponent_zero_has_zero_grad_at_zero():
    # the polynomial sum_k c_k x^k at x = 0: d(x^0)/dx must be 0, not 0 * (1/0) = NaN
    x = Tensor([0.0, 1.0, 2.0], requires_grad=True)
    sum(c * x ** k for k, c in enumerate([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 8.0, 14.0])


def test_pow_grad_wrt_exponent_is_zero_where_the_base_is_zero():
    # 0^y = 0 for every y > 0, so d(0^y)/dy = 0: not out * ln 0 = 0 * -inf = NaN (and no
    # divide-by-zero warning, which this suite turns into an error)
    base = Tensor(np.array([0.0, 0.0, 2.0]))
    exponent = Tensor(np.array([2.0, 0.5, 3.0]), requires_grad=True)
    (base ** exponent).sum().backward()
    np.testing.assert_allclose(exponent.grad.data, [0.0, 0.0, 8.0 * np.log(2.0)], rtol=1e-12)
    check_grad(lambda y: Tensor(np.array([0.0, 1.5])) ** y, np.array([1.5, 0.7]), order=2)


def test_pow_grad_wrt_a_negative_exponent_at_base_zero_is_minus_infinity():
    # regression: 0^y = inf for y < 0, and d/dy = out ln x = inf * -inf = -inf (PyTorch's
    # value); the rule's ln 1 = 0, meant for y >= 0 where 0^y is flat, gave inf * 0 = NaN
    base = Tensor(np.array([0.0, 0.0, 0.0]))
    exponent = Tensor(np.array([-1.0, -0.5, 2.0]), requires_grad=True)
    with np.errstate(divide="ignore"):   # 0 ** -1 and ln 0: the infinities under test
        (base ** exponent).backward(Tensor(np.array([1.0, -2.0, 1.0])))
    np.testing.assert_array_equal(exponent.grad.data, [-np.inf, np.inf, 0.0])


def test_pow_mixed_second_derivative_is_symmetric_where_the_exponent_is_zero():
    # d2(x^y)/dx dy = x^(y-1) (1 + y ln x): 0.5 at x = 2, y = 0, along both paths
    x = Tensor(np.array([2.0, 3.0]), requires_grad=True)
    y = Tensor(np.array([0.0, 1.5]), requires_grad=True)
    gx, gy = grad((x ** y).sum(), [x, y], create_graph=True)
    expected = x.data ** (y.data - 1) * (1 + y.data * np.log(x.data))
    np.testing.assert_allclose(grad(gx.sum(), y)[0].data, expected, rtol=1e-12)
    np.testing.assert_allclose(grad(gy.sum(), x)[0].data, expected, rtol=1e-12)


@given(tst.arrays(min_value=0.5, max_value=3.0), tst.floats(min_value=-2.0, max_value=2.0))
def test_pow_grad_wrt_exponent_is_out_log_x(x, p):
    base = Tensor(x)
    exponent = Tensor(np.array(p), requires_grad=True)
    (base ** exponent).sum().backward()
    assert_grads_close(exponent.grad, (x ** p * np.log(x)).sum(), rtol=1e-10, atol=1e-12)


def test_astype_changes_dtype_and_casts_the_grad_back():
    x = Tensor(np.array([1.5, -2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64 and y.grad_fn is not None
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, -4.0])
    assert x.astype(np.float32) is x
    assert x.double().dtype == np.float64 and x.double().float().dtype == np.float32


def test_astype_to_an_integer_dtype_gives_a_constant():
    x = Tensor([1.7, -2.2], requires_grad=True)
    n = x.astype(np.int64)
    assert n.dtype == np.int64 and not n.requires_grad and n.grad_fn is None
    np.testing.assert_array_equal(n.data, [1, -2])


def test_mixed_dtypes_promote_like_numpy_and_grads_keep_each_leaf_dtype():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = Tensor(np.array([3.0, 4.0], dtype=np.float64), requires_grad=True)
    out = x * y
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
