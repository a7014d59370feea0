"""The Tensor: construction and dtypes, properties, detach, repr, comparisons, factories."""

import numpy as np
import pytest
from hypothesis import given

import tinygrad_edu
from tinygrad_edu import Tensor, tensor
from tinygrad_edu.testing import strategies as tst

# ---- construction and dtype rules -----------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_numpy_float_arrays_keep_their_dtype(dtype):
    t = Tensor(np.array([1.0, 2.0], dtype=dtype), requires_grad=True)
    assert t.dtype == dtype


def test_numpy_arrays_are_shared_not_copied():
    a = np.array([1.0, 2.0])
    t = Tensor(a)
    assert t.data is a and t.numpy() is a


@pytest.mark.parametrize("value", [3, 2.5, True, [1, 2], [[1.0, 2.0], [3.0, 4.0]], (1, 2.5)])
def test_python_numbers_and_lists_become_float32(value):
    assert Tensor(value).dtype == np.float32
    np.testing.assert_array_equal(Tensor(value).data, np.asarray(value, dtype=np.float32))


def test_numpy_scalars_keep_their_dtype():
    assert Tensor(np.float64(1.5)).dtype == np.float64
    assert Tensor(np.float32(1.5)).dtype == np.float32


def test_integer_numpy_arrays_stay_integer():
    assert Tensor(np.array([1, 2])).dtype == np.int64


def test_dtype_argument_converts():
    t = Tensor([1, 2], dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad
    assert Tensor(np.array([1.5, 2.5]), dtype=np.float32).dtype == np.float32
    assert tinygrad_edu.float32 is np.float32 and tinygrad_edu.float64 is np.float64


def test_tensor_from_a_tensor_shares_its_data():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(a)
    assert b.data is a.data and not b.requires_grad and b.is_leaf


def test_tensor_function_is_the_constructor():
    t = tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    assert isinstance(t, Tensor) and t.requires_grad and t.dtype == np.float64


# ---- properties -----------------------------------------------------------------------------


@given(tst.arrays())
def test_shape_ndim_size_dtype_come_from_the_array(x):
    t = Tensor(x)
    assert t.shape == x.shape and t.ndim == x.ndim and t.size == x.size
    assert t.numel() == x.size and t.dtype == x.dtype
    assert t.tolist() == x.tolist()


def test_item_of_a_one_element_tensor_is_a_python_number():
    assert Tensor([[2.5]]).item() == 2.5 and isinstance(Tensor(np.array(3.0)).item(), float)


def test_a_new_leaf_has_no_grad_and_no_op():
    t = Tensor([1.0], requires_grad=True)
    assert t.grad is None and t.is_leaf and t.grad_fn is None and t.requires_grad


def test_an_op_result_is_not_a_leaf_and_names_its_op():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name == "Mul"


def test_grad_after_backward_is_a_tensor_of_the_leafs_shape():
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    (x * x).sum().backward()
    assert isinstance(x.grad, Tensor) and x.grad.shape == x.shape
    assert not x.grad.requires_grad


def test_detach_shares_data_and_leaves_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.is_leaf
    assert not (d * 2).requires_grad


def test_requires_grad_underscore_sets_the_flag_on_a_leaf():
    x = Tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    assert not x.requires_grad_(False).requires_grad


def test_len_iter_and_bool():
    t = Tensor(np.arange(6.0).reshape(3, 2))
    assert len(t) == 3 and [row.shape for row in t] == [(2,)] * 3
    assert bool(Tensor([1.0])) and not bool(Tensor([0.0]))


def test_numpy_can_read_a_tensor():
    t = Tensor([1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(t), [1.0, 2.0])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


# ---- repr -----------------------------------------------------------------------------------


def test_repr_shows_values_and_dtype():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.], dtype=float32)"


def test_repr_shows_requires_grad_on_a_leaf_and_the_op_on_a_result():
    x = Tensor(np.array([1.5]), requires_grad=True)
    assert repr(x) == "Tensor([1.5], dtype=float64, requires_grad=True)"
    assert repr(x.exp()).endswith("dtype=float64, grad_fn=<Exp>)")


def test_repr_shows_the_name_and_summarises_large_tensors():
    x = Tensor(np.zeros(1000))
    x.name = "big"
    text = repr(x)
    assert "..." in text and text.endswith("name='big')") and len(text) < 200


# ---- comparisons: constant bool tensors -----------------------------------------------------


def test_comparisons_give_bool_tensors_outside_the_graph():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for out, expected in [(x > 2, [False, False, True]), (x >= 2, [False, True, True]),
                          (x < 2, [True, False, False]), (x <= 2, [True, True, False]),
                          (x == 2, [False, True, False]), (x != 2, [True, False, True]),
                          (x == Tensor([1.0, 0.0, 3.0]), [True, False, True])]:
        assert out.dtype == bool and not out.requires_grad and out.grad_fn is None
        np.testing.assert_array_equal(out.data, expected)


def test_tensors_hash_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1


# ---- factories ------------------------------------------------------------------------------


def test_zeros_ones_randn():
    assert Tensor.zeros(2, 3).shape == (2, 3) and Tensor.zeros((2, 3)).data.sum() == 0
    ones = Tensor.ones((2,), dtype=np.float64, requires_grad=True)
    assert ones.dtype == np.float64 and ones.requires_grad and ones.data.sum() == 2
    a = Tensor.randn(3, 4, rng=np.random.default_rng(0))
    b = Tensor.randn((3, 4), rng=np.random.default_rng(0))
    assert a.dtype == np.float32 and a.shape == (3, 4)
    np.testing.assert_array_equal(a.data, b.data)
