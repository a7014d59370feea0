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
    with pytest.raises(GradcheckError, match=rf"\(atol [0-9.e-]+, rtol {RTOL:g}\)"):
        gradcheck(lambda t: SlightlyOff.apply(t), x)
    assert gradcheck(lambda t: SlightlyOff.apply(t), x, rtol=1e-2)


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)


def test_gradcheck_uses_a_given_grad_output():
    x = np.array([1.0, 2.0])
    # with grad_output [1, 0] only element 0 is weighed: the wrong rule is caught there
    with pytest.raises(GradcheckError, match=r"1 of 2 elements differ; worst at index \(0,\)"):
        gradcheck(lambda t: HalfSquare.apply(t), [x], grad_output=np.array([1.0, 0.0]))


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


# ---- issue 15, item 6: gradcheck passes only what it checked ---------------------------------


class WrongSign(Function):
    """out = x^2, with the sign of the gradient flipped"""

    def forward(self, x):
        return x * x

    def backward(self, grad):
        (x,) = self.inputs
        return -grad * 2 * x                 # wrong: dout/dx = 2x


class IgnoresGrad(Function):
    """out = x^2, with a backward that forgets to multiply by the incoming gradient"""

    def forward(self, x):
        return x * x

    def backward(self, grad):
        (x,) = self.inputs
        return 2 * x                         # wrong: grad * 2x


class Square(Function):
    """out = x^2, done right"""

    def forward(self, x):
        return x * x

    def backward(self, grad):
        (x,) = self.inputs
        return grad * 2 * x                  # dout/dx = 2x


class DetachedFourXCubed(Function):
    """out = 4 x^3; first derivative right, but built from a detached array"""

    def forward(self, x):
        return 4 * x ** 3

    def backward(self, grad):
        (x,) = self.inputs
        return grad * Tensor(12 * x.data ** 2)  # a constant: its own derivative is lost


class FourthPower(Function):
    """out = x^4; the rule's graph is right to second order and wrong at the third"""

    def forward(self, x):
        return x ** 4

    def backward(self, grad):
        (x,) = self.inputs
        return grad * DetachedFourXCubed.apply(x)   # dout/dx = 4 x^3


def _wrong_sign_sum(*ts):
    return sum((WrongSign.apply(t * 1.0) for t in ts), start=Tensor(np.zeros(())))


@pytest.mark.parametrize("check", [gradcheck, gradgradcheck])
@pytest.mark.parametrize(("inputs", "dtype"), [
    ([np.array([1, 2, 3])], "int64"),
    ([np.array([1, 2], dtype=np.uint8)], "uint8"),
])
def test_trust_06_integer_inputs_alone_are_an_error(check, inputs, dtype):
    with pytest.raises(TypeError, match=rf"{check.__name__}: no input can be checked: input 0 "
                       rf"has dtype {dtype}.*np\.asarray\(x, dtype=np\.float64\)"):
        check(_wrong_sign_sum, inputs)


@pytest.mark.parametrize("check", [gradcheck, gradgradcheck])
def test_trust_06_bool_inputs_alone_are_an_error(check):
    with pytest.raises(TypeError, match=r"no input can be checked: input 0 has dtype bool"):
        check(_wrong_sign_sum, [np.array([True, False])])


@pytest.mark.parametrize("check", [gradcheck, gradgradcheck])
def test_trust_06_lists_of_ints_are_an_error(check):
    with pytest.raises(TypeError, match=r"input 0 has dtype int64"):
        check(_wrong_sign_sum, [[1, 2, 3]])
    with pytest.raises(TypeError, match=r"input 0 has dtype int64 and input 1 has dtype int64"):
        check(_wrong_sign_sum, [1, 2])


@pytest.mark.parametrize("check", [gradcheck, gradgradcheck])
def test_trust_06_no_inputs_are_an_error(check):
    with pytest.raises(ValueError, match=rf"{check.__name__}: no inputs to check"):
        check(lambda: Tensor(np.array(1.0)), [])


def test_gradcheck_integer_inputs_beside_a_float_one_stay_constants():
    x, index = np.array([1.0, 2.0, 3.0]), np.array([2, 0, 2])
    assert gradcheck(lambda t, i: Square.apply(t[i]), [x, index])
    with pytest.raises(GradcheckError, match=r"^input 0"):
        gradcheck(lambda t, i: WrongSign.apply(t[i]), [x, index])


@pytest.mark.parametrize("fn", [
    lambda t: IgnoresGrad.apply(t).sum(),            # scalar output: v is 1 in the usual check
    lambda t: IgnoresGrad.apply(t),                  # non-scalar output
    lambda t: (IgnoresGrad.apply(t) * 3.0).mean(),
    lambda t: IgnoresGrad.apply(t).sum() + (t * t).sum(),
], ids=["sum", "elementwise", "scaled-mean", "one-path-of-two"])
def test_trust_06_a_rule_that_ignores_grad_fails(fn):
    with pytest.raises(GradcheckError, match=r"^input 0 \(shape \(3,\)\): doubling the incoming "
                       r"gradient did not double this gradient; a backward rule may ignore its "
                       r"`grad` argument"):
        gradcheck(fn, [np.array([1.0, -2.0, 0.5])])


def test_trust_06_a_rule_that_ignores_grad_fails_even_with_grad_output_one():
    with pytest.raises(GradcheckError, match="doubling the incoming gradient"):
        gradcheck(lambda t: IgnoresGrad.apply(t).sum(), [np.array([1.0, 2.0])],
                  grad_output=np.array(1.0))


def test_trust_06_check_grad_order_3_checks_third_derivatives():
    x = np.array([0.5, -1.5, 2.0])
    assert check_grad(lambda t: FourthPower.apply(t), x, order=2)   # right to second order
    with pytest.raises(GradcheckError, match=r"^third derivatives: input 0 \(shape \(3,\)\)"):
        check_grad(lambda t: FourthPower.apply(t), x, order=3)
    assert check_grad(lambda t: t ** 4 + t.exp(), x, order=3)


@pytest.mark.parametrize(("order", "error", "message"), [
    (0, ValueError, "order must be 1 or more, got 0"),
    (-1, ValueError, "order must be 1 or more, got -1"),
    (1.5, TypeError, "order must be an int, got float"),
    (True, TypeError, "order must be an int, got bool"),
])
def test_trust_06_check_grad_refuses_an_order_it_cannot_check(order, error, message):
    with pytest.raises(error, match=f"check_grad: {message}"):
        check_grad(lambda t: t * t, np.array([1.0]), order=order)


def test_trust_06_a_tiny_wrong_gradient_fails():
    x = [np.array([1.0, -2.0, 0.5])]
    assert gradcheck(lambda t: Square.apply(t) * 1e-6, x)
    with pytest.raises(GradcheckError, match=r"^input 0 \(shape \(3,\)\): 3 of 3 elements differ"):
        gradcheck(lambda t: WrongSign.apply(t) * 1e-6, x)


@given(tst.floats(min_value=-6.0, max_value=8.0), tst.arrays(min_magnitude=0.1, max_side=3))
def test_trust_06_tolerances_scale_with_the_gradient(log_scale, x):
    scale = 10.0 ** log_scale
    assert gradcheck(lambda t: Square.apply(t) * scale, [x])
    with pytest.raises(GradcheckError, match="elements differ"):
        gradcheck(lambda t: WrongSign.apply(t) * scale, [x])


# ---- issue 15: bad arguments are clear errors ------------------------------------------------

CHECKS = [
    lambda fn, x, **kw: gradcheck(fn, [x], **kw),
    lambda fn, x, **kw: gradgradcheck(fn, [x], **kw),
    lambda fn, x, **kw: check_grad(fn, x, order=2, **kw),
]


@pytest.mark.parametrize("check", CHECKS, ids=["gradcheck", "gradgradcheck", "check_grad"])
@pytest.mark.parametrize(("options", "error", "message"), [
    ({"eps": 0}, ValueError, r"eps must be a positive finite number, got 0"),
    ({"eps": -1e-6}, ValueError, r"eps must be a positive finite number, got -1e-06"),
    ({"eps": float("nan")}, ValueError, r"eps must be a positive finite number, got nan"),
    ({"atol": "1e-5"}, TypeError, r"atol must be a number, got str '1e-5'"),
    ({"rtol": -1e-3}, ValueError, r"rtol must be 0 or more and finite, got -0\.001"),
    ({"atol": float("inf")}, ValueError, r"atol must be 0 or more and finite, got inf"),
    ({"rtol": None}, TypeError, r"rtol must be a number, got NoneType"),
])
def test_trust_15_gradcheck_rejects_bad_options(check, options, error, message):
    with pytest.raises(error, match=message):
        check(lambda t: t * t, np.array([1.0, 2.0]), **options)


def test_trust_15_numerical_grad_rejects_zero_eps():
    with pytest.raises(ValueError, match=r"numerical_grad: eps must be a positive finite number"):
        numerical_grad(lambda t: t * t, [np.array([1.0])], eps=0.0)


@pytest.mark.parametrize("check", CHECKS, ids=["gradcheck", "gradgradcheck", "check_grad"])
def test_trust_15_gradcheck_rejects_an_ndarray_returning_fn(check):
    with pytest.raises(TypeError, match=r"fn returned ndarray, not a Tensor; build the result "
                       r"from Tensor ops"):
        check(lambda t: np.exp(t.data), np.array([1.0, 2.0]))


def test_trust_15_gradcheck_rejects_a_non_float_result():
    with pytest.raises(TypeError, match=r"gradcheck: fn returned a Tensor of dtype bool"):
        gradcheck(lambda t: t > 0, [np.array([1.0, -2.0])])


def test_trust_15_gradcheck_rejects_a_complex_input():
    with pytest.raises(TypeError, match=r"gradcheck: input 1 has dtype complex128"):
        gradcheck(lambda a, b: a * b, [np.array([1.0]), np.array([1j])])


def test_trust_15_gradcheck_takes_one_array_as_one_input():
    # as torch.autograd.gradcheck: a lone array is one input, not a sequence of rows
    assert gradcheck(lambda t: Square.apply(t), np.array([[1.0, 2.0], [3.0, 4.0]]))


def test_check_grad_rejects_an_unknown_option():
    with pytest.raises(TypeError, match=r"check_grad: unknown options \['tol'\]; the options "
                       r"are eps, atol, rtol and grad_output"):
        check_grad(lambda t: t * t, np.array([1.0]), tol=1e-3)


def test_check_grad_uses_grad_output_for_the_first_derivatives():
    x = np.array([1.0, 2.0])
    with pytest.raises(GradcheckError, match=r"1 of 2 elements differ; worst at index \(0,\)"):
        check_grad(lambda t: HalfSquare.apply(t), x, grad_output=np.array([1.0, 0.0]))


def test_gradcheck_rejects_a_grad_output_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"gradcheck: grad_output of shape \(3,\) does not "
                       r"broadcast to fn's output shape \(2,\)"):
        gradcheck(lambda t: t * t, [np.array([1.0, 2.0])], grad_output=np.ones(3))


def test_gradcheck_rejects_inputs_that_are_not_a_list():
    with pytest.raises(TypeError, match=r"gradcheck: inputs must be a list of arrays or "
                       r"Tensors \(one per argument of fn\), got float"):
        gradcheck(lambda t: t * t, 1.5)
