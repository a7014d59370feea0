"""PyTorch habits that work here too (issue 16, item 5): each test is a move a PyTorch user makes
without thinking, and what it gives."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given

import tinygrad_edu
from tinygrad_edu import Function, GraphError, ShapeError, Tensor, cat, grad, nn, stack
from tinygrad_edu.testing import check_grad

finite = st.floats(-10, 10, allow_nan=False, width=64)


def test_first_05_python_numbers_from_a_one_element_tensor():
    loss = Tensor([0.123456])
    assert float(loss) == pytest.approx(0.123456) and int(Tensor([3.7])) == 3
    assert f"{loss:.3f}" == "0.123"


def test_first_05_size_is_numpys_number_and_pytorchs_method():
    t = Tensor.zeros(2, 3)
    assert t.size == 6 and t.numel() == 6
    assert t.size() == (2, 3) and t.size(1) == 3 and t.size(-2) == 2
    with pytest.raises(IndexError, match="size: dim 2 is out of range"):
        t.size(2)


def test_first_05_axis_is_another_name_for_dim():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(axis=1).data, [3.0, 12.0])
    np.testing.assert_array_equal(x.mean(axis=0, keepdim=True).data, [[1.5, 2.5, 3.5]])
    np.testing.assert_array_equal(x.softmax(axis=1).data, x.softmax(dim=1).data)
    assert x.max(axis=1).indices.tolist() == [2, 2]
    assert cat([x, x], axis=1).shape == (2, 6) and stack([x, x], axis=0).shape == (2, 2, 3)
    with pytest.raises(TypeError, match="sum: give dim or axis"):
        x.sum(1, axis=0)


def test_first_05_factories():
    assert Tensor.arange(4).tolist() == [0, 1, 2, 3]
    assert Tensor.arange(1, 2, 0.5, dtype=np.float32).tolist() == [1.0, 1.5]
    np.testing.assert_array_equal(Tensor.eye(2).data, np.eye(2))
    assert Tensor.full((2,), 7.0).tolist() == [7.0, 7.0]
    x = Tensor(np.ones((2, 3)))
    assert x.zeros_like().dtype == np.float64 and x.ones_like().tolist() == [[1.0] * 3] * 2
    assert x.full_like(2).tolist() == [[2.0] * 3] * 2
    assert x.randn_like(rng=0).shape == (2, 3)
    r = Tensor.rand(1000, rng=1)
    assert r.dtype == np.float32 and r.data.min() >= 0 and r.data.max() < 1
    assert Tensor.randn(2, 3, requires_grad=True).requires_grad


def test_first_05_seeds_work_as_in_pytorch():
    np.testing.assert_array_equal(Tensor.randn(3, rng=0).data, Tensor.randn(3, rng=0).data)
    tinygrad_edu.manual_seed(5)
    a, layer_a = Tensor.randn(3), nn.Linear(2, 2)
    tinygrad_edu.manual_seed(5)
    b, layer_b = Tensor.randn(3), nn.Linear(2, 2)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(layer_a.weight.data, layer_b.weight.data)
    with pytest.raises(ValueError, match="manual_seed: the seed must be >= 0"):
        tinygrad_edu.manual_seed(-1)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        Tensor.randn(2, rng="0")


@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=2),
                    elements=finite), correction=st.sampled_from([0, 1]))
def test_first_05_var_and_std_match_numpy(x, correction):
    t = Tensor(x)
    np.testing.assert_allclose(t.var(0, correction=correction).data,
                               x.var(axis=0, ddof=correction), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(t.std(correction=correction).data, x.std(ddof=correction),
                               rtol=1e-9, atol=1e-12)


@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3), elements=finite))
def test_first_05_logsumexp_matches_its_definition(x):
    expected = np.log(np.exp(x).sum(axis=-1))
    np.testing.assert_allclose(Tensor(x).logsumexp(-1).data, expected, rtol=1e-12, atol=1e-12)
    assert Tensor(x).logsumexp(-1, keepdim=True).shape == x.shape[:-1] + (1,)


def test_first_05_logsumexp_does_not_overflow():
    big = Tensor([1000.0, 1000.0], dtype=np.float64)
    assert big.logsumexp().item() == pytest.approx(1000.0 + np.log(2.0))


def test_first_05_new_ops_have_true_first_and_second_derivatives():
    x = np.array([[0.3, -0.2, 1.4], [0.5, 0.9, -0.6]])
    check_grad(lambda t: t.log1p(), x, order=2)
    check_grad(lambda t: t.logsumexp(1), x, order=2)
    check_grad(lambda t: t.var(1), x, order=2)
    check_grad(lambda t: t.std(0, correction=0), x, order=2)
    tiny = Tensor([1e-10], dtype=np.float64)
    np.testing.assert_allclose(tiny.log1p().data, [1e-10 - 0.5e-20], rtol=1e-15)  # x - x^2/2


def test_first_05_argmin_and_clip():
    x = Tensor([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    assert x.argmin(1).tolist() == [1, 2] and x.argmin().item() == 5
    assert x.clip(0, 2).tolist() == [[2.0, 1.0, 2.0], [0.0, 2.0, 0.0]]


def test_first_05_grad_of_a_non_leaf_warns_and_points_to_retain_grad():
    x = Tensor([1.0], requires_grad=True)
    y = x * 2
    (y * y).sum().backward()
    with pytest.warns(UserWarning, match="not a leaf.*retain_grad"):
        assert y.grad is None


def test_first_05_grad_fn_prints_as_in_the_tensor_repr():
    y = Tensor([2.0], requires_grad=True) ** 2
    assert repr(y.grad_fn) == "<Pow>" and "grad_fn=<Pow>" in repr(y)


@pytest.mark.parametrize("f", [lambda t: t.relu(), abs, lambda t: t.amax(),
                               lambda t: t.clamp(-1.0, 1.0)], ids=["relu", "abs", "max", "clamp"])
def test_first_05_second_derivative_of_a_piecewise_linear_op_is_zero(f):
    x = Tensor([0.5, -2.0], requires_grad=True)
    (dx,) = grad(f(x).sum(), x, create_graph=True)
    (ddx,) = grad(dx.sum(), x)
    np.testing.assert_array_equal(ddx.data, [0.0, 0.0])


def test_first_05_grad_names_itself_when_an_output_needs_no_grad():
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(GraphError, match=r"^grad: output 0 \(shape \(\)\) does not require grad"):
        grad((x.detach() * 2).sum(), x)


def test_first_05_a_float64_input_to_a_float32_layer_is_cast_with_a_warning():
    layer = nn.Linear(2, 1, rng=0)
    with pytest.warns(UserWarning, match=r"a float64 input meets float32 parameters; the input "
                                         r"is cast to float32"):
        out = layer(Tensor(np.ones((3, 2))))
    assert out.dtype == np.float32


def test_first_05_a_wrong_input_width_names_the_layer():
    layer = nn.Linear(2, 3, rng=0)
    with pytest.raises(ShapeError, match=r"^Linear\(in_features=2, out_features=3, bias=True\): "
                                         r"the input has shape \(4, 3\), so 3 features .* "
                                         r"build Linear\(3, 3\)"):
        layer(Tensor(np.ones((4, 3), np.float32)))


def test_first_05_an_error_inside_a_custom_backward_names_the_op():
    class Twice(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return grad.reshape(5, 7)           # a bug in the user's rule

    with pytest.raises(ShapeError, match="reshape") as caught:
        Twice.apply(Tensor([1.0, 2.0], requires_grad=True)).sum().backward()
    assert any("Twice.backward" in note for note in caught.value.__notes__)


def test_cnn_tensor_conv2d_and_erf_are_the_functional_ops():
    from math import erf

    from tinygrad_edu.nn import functional as F
    rng = np.random.default_rng(0)
    x, w = Tensor(rng.standard_normal((2, 3, 5, 5))), Tensor(rng.standard_normal((4, 3, 3, 3)))
    np.testing.assert_array_equal(x.conv2d(w, padding=1).data, F.conv2d(x, w, padding=1).data)
    np.testing.assert_allclose(Tensor([0.5, -1.0], dtype=np.float64).erf().data,
                               [erf(0.5), erf(-1.0)], rtol=1e-12)
