"""The gradient-testing kit is tested too: it must pass correct ops and catch wrong ones."""

import numpy as np
import pytest
from hypothesis import given

from tinygrad_edu import Function, Tensor
from tinygrad_edu.testing import (
    ATOL,
    EPS,
    RTOL,
    GradcheckError,
    assert_grads_close,
    check_grad,
    gradcheck,
    gradgradcheck,
    numerical_grad,
)
from tinygrad_edu.testing import strategies as tst

# ---- user Functions with a known mistake ----------------------------------------------------


class HalfSquare(Function):
    """out = x^2, with a backward that forgets the factor 2"""

    def forward(self, x):
        return x * x

    def backward(self, grad):
        (x,) = self.inputs
        return grad * x                      # wrong: dout/dx = 2x


class UnflippedReverse(Function):
    """out = x reversed, with a backward that forgets to reverse the gradient back"""

    def forward(self, x):
        return x[::-1].copy()

    def backward(self, grad):
        return grad                          # wrong: dout/dx is the reversal too


class WrongSecondInput(Function):
    """out = x * y, with a wrong sign on dout/dy"""

    def forward(self, x, y):
        return x * y

    def backward(self, grad):
        x, y = self.inputs
        return grad * y, -grad * x           # wrong: dout/dy = x


class DetachedCube(Function):
    """out = x^3; backward right in value but built from a detached array"""

    def forward(self, x):
        return x ** 3

    def backward(self, grad):
        (x,) = self.inputs
        return grad * Tensor(3 * x.data ** 2)  # a constant: second derivatives become 0


class Cube(Function):
    """out = x^3, done right"""

    def forward(self, x):
        return x ** 3

    def backward(self, grad):
        (x,) = self.inputs
        return grad * 3 * x * x              # dout/dx = 3 x^2, still in the graph


# ---- gradcheck -------------------------------------------------------------------------------


@given(tst.broadcastable_arrays(2))
def test_gradcheck_returns_true_on_correct_ops(arrays):
    assert gradcheck(lambda x, y: x * y + x / (1 + y * y), arrays) is True


def test_gradcheck_error_names_input_index_analytic_and_numeric():
    x = np.array([1.0, -3.0, 2.0])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\): 3 of 3 elements "
                       r"differ; worst at index \(1,\): analytic -3\.0, numeric -6\.0"):
        gradcheck(lambda t: HalfSquare.apply(t).sum(), [x])


def test_gradcheck_names_the_second_input_when_only_it_is_wrong():
    with pytest.raises(GradcheckError, match=r"^input 1 \(shape \(2, 2\)\)"):
        gradcheck(lambda a, b: WrongSecondInput.apply(a, b),
                  [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.5, -1.0], [2.0, 1.5]])])


def test_gradcheck_catches_a_wrong_off_diagonal_jacobian():
    # the diagonal of this Jacobian is right at the middle element: only the random
    # cotangent (not a sum of outputs) exposes the missing reversal
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda t: UnflippedReverse.apply(t), [np.array([1.0, 2.0, 3.0])])


def test_gradcheck_passes_a_correct_user_function():
    assert gradcheck(lambda t: Cube.apply(t), [np.array([[0.5, -1.5], [2.0, 3.0]])])


def test_gradcheck_treats_integer_inputs_as_constants():
    index = np.array([2, 0, 2])
    assert gradcheck(lambda x, i: x[i] * x[i], [np.array([1.0, 2.0, 3.0]), index])


def test_gradcheck_keeps_a_0d_input_0d():
    seen = []

    def fn(t):
        seen.append(t.shape)
        return t * t

    assert gradcheck(fn, [np.array(1.5)])
    assert set(seen) == {()}


def test_gradcheck_leaves_the_callers_inputs_unchanged():
    array = np.array([1.0, 2.0, 3.0])
    leaf = Tensor(np.array([0.5, 0.25]), requires_grad=True)
    gradcheck(lambda a, b: (a * a).sum() + (b.exp()).sum(), [array, leaf])
    np.testing.assert_array_equal(array, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(leaf.data, [0.5, 0.25])
    assert leaf.grad is None


def test_gradcheck_tolerances_decide_what_passes():
    class SlightlyOff(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return grad * (2 * (1 + 1e-3))   # relative error 1e-3

    x = [np.array([1.0, 2.0])]
    with pytest.raises(GradcheckError, match=f"atol {ATOL:g}, rtol {RTOL:g}"):
        gradcheck(lambda t: SlightlyOff.apply(t), x)
    assert gradcheck(lambda t: SlightlyOff.apply(t), x, rtol=1e-2)


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)


def test_gradcheck_uses_a_given_grad_output():
    x = np.array([1.0, 2.0])
    # with grad_output [1, 0] only element 0 is weighed: the wrong rule is caught there
    with pytest.raises(GradcheckError, match=r"1 of 2 elements differ; worst at index \(0,\)"):
        gradcheck(lambda t: HalfSquare.apply(t), x[None], grad_output=np.array([1.0, 0.0]))


# ---- gradgradcheck --------------------------------------------------------------------------


@given(tst.arrays(max_side=3, max_dims=2))
def test_gradgradcheck_returns_true_on_correct_second_derivatives(x):
    assert gradgradcheck(lambda t: t.tanh() * t * t, [x])


def test_gradgradcheck_passes_a_correct_user_function():
    assert gradgradcheck(lambda t: Cube.apply(t), [np.array([0.5, -1.5, 2.0])])


def test_gradgradcheck_catches_a_backward_built_from_a_detached_array():
    x = [np.array([0.5, -1.5, 2.0])]
    assert gradcheck(lambda t: DetachedCube.apply(t), x)      # first derivatives are right
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\)"):
        gradgradcheck(lambda t: DetachedCube.apply(t), x)


def test_check_grad_order_2_also_checks_second_derivatives():
    x = np.array([0.5, -1.5, 2.0])
    assert check_grad(lambda t: DetachedCube.apply(t), x)
    with pytest.raises(GradcheckError):
        check_grad(lambda t: DetachedCube.apply(t), x, order=2)
    assert check_grad(lambda t: Cube.apply(t), x, order=2)


def test_check_grad_passes_tolerances_through():
    class SlightlyOff(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return grad * (2 * (1 + 1e-3))

    with pytest.raises(GradcheckError):
        check_grad(lambda t: SlightlyOff.apply(t), np.array([1.0]))
    assert check_grad(lambda t: SlightlyOff.apply(t), np.array([1.0]), rtol=1e-2)


# ---- numerical_grad -------------------------------------------------------------------------


@given(tst.arrays(min_value=0.1, max_value=5.0))
def test_numerical_grad_of_log_is_reciprocal(x):
    (g,) = numerical_grad(lambda t: t.log().sum(), [x])
    np.testing.assert_allclose(g, 1 / x, rtol=1e-6, atol=1e-7)


@given(tst.arrays(min_value=-3.0, max_value=3.0))
def test_numerical_grad_of_cube_is_three_x_squared(x):
    (g,) = numerical_grad(lambda t: (t ** 3).sum(), [x])
    # a central difference is exact for a cubic but for rounding: each sum is off by about
    # |sum| * 2^-52, so the quotient is off by about |sum| * 2^-52 / EPS (testing.md); at 80
    # elements of 3.0 that is 5e-7, beyond a fixed atol
    rounding = np.abs(x ** 3).sum() * np.finfo(np.float64).eps / EPS
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-6, atol=1e-7 + 4 * rounding)


@given(tst.arrays(min_value=-3.0, max_value=3.0, shape=(2, 3)),
       tst.arrays(shape=(2, 3)))
def test_numerical_grad_weighs_outputs_by_grad_output(x, v):
    (g,) = numerical_grad(lambda t: t * t, [x], grad_output=v)
    np.testing.assert_allclose(g, 2 * x * v, rtol=1e-6, atol=1e-6)


def test_numerical_grad_of_a_product_gives_each_input_the_other():
    x, y = np.array([1.5, -2.0]), np.array([3.0, 0.5])
    gx, gy = numerical_grad(lambda a, b: (a * b).sum(), [x, y])
    np.testing.assert_allclose(gx, y, rtol=1e-9)
    np.testing.assert_allclose(gy, x, rtol=1e-9)


def test_numerical_grad_of_a_0d_input():
    (g,) = numerical_grad(lambda t: t.exp(), [np.array(1.0)])
    assert g.shape == ()
    np.testing.assert_allclose(g, np.e, rtol=1e-8)


def test_numerical_grad_gives_none_for_integer_inputs():
    gx, gi = numerical_grad(lambda x, i: x[i].sum(), [np.array([1.0, 2.0, 3.0]),
                                                      np.array([0, 0, 2])])
    np.testing.assert_allclose(gx, [2.0, 0.0, 1.0], rtol=1e-9)
    assert gi is None


def test_numerical_grad_is_float64_even_for_float32_inputs():
    (g,) = numerical_grad(lambda t: (t * t).sum(), [np.array([0.1, 0.2], dtype=np.float32)])
    assert g.dtype == np.float64


def test_numerical_grad_default_cotangent_is_fixed():
    x = np.array([1.0, 2.0, 3.0])
    first = numerical_grad(lambda t: t * t, [x])[0]
    second = numerical_grad(lambda t: t * t, [x])[0]
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, 2 * x)  # weights are random, not all ones


def test_eps_is_small_enough_for_float64():
    assert 1e-8 <= EPS <= 1e-4
    assert ATOL < 1e-3 and RTOL < 1e-2


# ---- assert_grads_close ---------------------------------------------------------------------


def test_assert_grads_close_passes_within_tolerance():
    assert_grads_close(Tensor(np.array([1.0, 2.0])), np.array([1.0, 2.0 + 1e-9]))


def test_assert_grads_close_points_to_the_worst_element():
    actual = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected = np.array([[1.1, 2.0], [3.0, 4.5]])
    with pytest.raises(AssertionError, match=r"^dW: 2 of 4 elements differ; worst at index "
                       r"\(1, 1\): actual 4\.0, expected 4\.5, \|difference\| 0\.5"):
        assert_grads_close(actual, expected, name="dW")


def test_assert_grads_close_reports_nan_as_the_worst_element():
    with pytest.raises(AssertionError, match=r"worst at index \(2,\): actual nan"):
        assert_grads_close([1.0, 5.0, np.nan], [1.0, 2.0, 3.0])


def test_assert_grads_close_rejects_a_different_shape():
    with pytest.raises(AssertionError, match=r"db: shape \(3,\) differs from expected shape "
                       r"\(3, 1\)"):
        assert_grads_close(np.zeros(3), np.zeros((3, 1)), name="db")


def test_assert_grads_close_is_relative_for_large_values():
    assert_grads_close([1e6 * (1 + 1e-7)], [1e6])
    with pytest.raises(AssertionError):
        assert_grads_close([1e6 * (1 + 1e-5)], [1e6])
