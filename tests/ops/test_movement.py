"""Movement ops (reshape, permute, expand, getitem, cat, stack, ...): values and gradients.

Each case draws an array and the op's arguments, and gives the numpy twin of the call.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, cat, stack
from tinygrad_edu.testing import assert_grads_close, check_grad
from tinygrad_edu.testing import strategies as tst

from ..twins import GRAD_SIZE


@st.composite
def reshape_case(draw, **size):
    x = draw(tst.arrays(**size))
    n = x.size
    candidates = [(n,), (1, n), x.shape[::-1], (-1,), (n, 1, 1)]
    if x.ndim >= 2:
        candidates.append((-1, x.shape[-1]))
    shape = draw(st.sampled_from(candidates))
    return x, lambda a: a.reshape(shape), lambda t: t.reshape(shape)


@st.composite
def permute_case(draw, **size):
    x = draw(tst.arrays(**size))
    order = draw(st.permutations(range(x.ndim)))
    negate = draw(st.lists(st.booleans(), min_size=x.ndim, max_size=x.ndim))
    dims = tuple(d - x.ndim if neg else d for d, neg in zip(order, negate, strict=True))
    return x, lambda a: np.transpose(a, dims), lambda t: t.permute(*dims)


@st.composite
def transpose_case(draw, **size):
    x = draw(tst.arrays(min_dims=1, **size))
    d0, d1 = (draw(st.integers(-x.ndim, x.ndim - 1)) for _ in range(2))
    return x, lambda a: np.swapaxes(a, d0, d1), lambda t: t.transpose(d0, d1)


@st.composite
def matrix_transpose_case(draw, **size):
    x = draw(tst.arrays(min_dims=2, **size))
    if draw(st.booleans()):
        return x, lambda a: a.T, lambda t: t.T
    return x, lambda a: np.swapaxes(a, -1, -2), lambda t: t.mT


@st.composite
def expand_case(draw, **size):
    x = draw(tst.arrays(**size))
    other = draw(hnp.broadcastable_shapes(x.shape, max_dims=3, max_side=3))
    shape = np.broadcast_shapes(x.shape, other)
    return x, lambda a: np.broadcast_to(a, shape), lambda t: t.expand(shape)


@st.composite
def squeeze_case(draw, **size):
    x = draw(tst.arrays(**{**size, "max_side": 2}))  # sides of 1 are common
    if x.ndim and draw(st.booleans()):
        dim = draw(st.integers(-x.ndim, x.ndim - 1))
        squeezed = (lambda a: np.squeeze(a, dim)) if x.shape[dim] == 1 else (lambda a: a)
        return x, squeezed, lambda t: t.squeeze(dim)
    return x, np.squeeze, lambda t: t.squeeze()


@st.composite
def unsqueeze_case(draw, **size):
    x = draw(tst.arrays(**size))
    dim = draw(st.integers(-x.ndim - 1, x.ndim))
    return x, lambda a: np.expand_dims(a, dim), lambda t: t.unsqueeze(dim)


@st.composite
def flatten_case(draw, **size):
    x = draw(tst.arrays(min_dims=1, **size))
    start = draw(st.integers(0, x.ndim - 1))
    end = draw(st.integers(start, x.ndim - 1))
    shape = x.shape[:start] + (-1,) + x.shape[end + 1:]
    return x, lambda a: a.reshape(shape), lambda t: t.flatten(start, end - x.ndim)


@st.composite
def basic_index_case(draw, **size):
    x = draw(tst.arrays(min_dims=1, **size))
    index = draw(hnp.basic_indices(x.shape, allow_newaxis=True))
    return x, lambda a: a[index], lambda t: t[index]


@st.composite
def integer_array_index_case(draw, **size):
    x = draw(tst.arrays(min_dims=1, **size))
    index = draw(hnp.integer_array_indices(
        x.shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=6)))
    return x, lambda a: a[index], lambda t: t[index]


@st.composite
def mask_index_case(draw, **size):
    x = draw(tst.arrays(min_dims=1, **size))
    mask = draw(hnp.arrays(bool, x.shape))
    return x, lambda a: a[mask], lambda t: t[Tensor(mask)]


@st.composite
def cat_case(draw, **size):
    base = draw(tst.shapes(min_dims=1, max_dims=3, max_side=3))
    dim = draw(st.integers(-len(base), len(base) - 1))
    count = draw(st.integers(1, 3))
    arrays = []
    for _ in range(count):
        shape = list(base)
        shape[dim] = draw(st.integers(1, 3))
        arrays.append(draw(tst.arrays(tuple(shape))))
    sizes = np.cumsum([a.shape[dim] for a in arrays])[:-1]
    x = np.concatenate(arrays, axis=dim)  # one input: cat of its pieces rebuilds it
    return (x, lambda a: np.concatenate(np.split(a, sizes, axis=dim), axis=dim),
            lambda t: cat(_split(t, sizes, dim), dim=dim))


@st.composite
def stack_case(draw, **size):
    x = draw(tst.arrays(min_dims=1, max_dims=3, max_side=3))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))  # stack x's slices along a new dim
    return (x, lambda a: np.stack([a[i] * (i + 1) for i in range(len(a))], axis=dim),
            lambda t: stack([t[i] * (i + 1) for i in range(len(t))], dim=dim))


def _split(t, sizes, dim):
    """Pieces of t along dim (with getitem), for cat to join again."""
    bounds = [0, *sizes, t.shape[dim]]
    lead = (slice(None),) * (dim % t.ndim)
    return [t[lead + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


CASES = {
    "reshape": reshape_case, "permute": permute_case, "transpose": transpose_case,
    "T_and_mT": matrix_transpose_case, "expand": expand_case, "squeeze": squeeze_case,
    "unsqueeze": unsqueeze_case, "flatten": flatten_case, "basic_index": basic_index_case,
    "integer_array_index": integer_array_index_case, "mask_index": mask_index_case,
    "cat": cat_case, "stack": stack_case,
}


@pytest.mark.parametrize("name", CASES)
@given(data=st.data())
def test_movement_matches_numpy(name, data):
    x, numpy_fn, tensor_fn = data.draw(CASES[name]())
    out = tensor_fn(Tensor(x))
    expected = numpy_fn(x)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)


@pytest.mark.parametrize("name", CASES)
@given(data=st.data())
def test_movement_grad_and_second_derivative_match_numerical(name, data):
    x, _, tensor_fn = data.draw(CASES[name](**GRAD_SIZE))
    # squared, so the second derivative runs through the backward of the op's backward
    check_grad(lambda t: tensor_fn(t) ** 2, x, order=2)


# ---- specific behaviours --------------------------------------------------------------------


def test_repeated_integer_indices_accumulate_gradients():
    x = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[[0, 2, 0, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])


def test_repeated_indices_in_a_tuple_index_accumulate():
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    rows, cols = np.array([1, 1, 0]), np.array([2, 2, 2])
    (x[rows, cols] * Tensor([1.0, 2.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.0, 4.0], [0.0, 0.0, 3.0]])


def test_index_with_an_integer_tensor():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = x[Tensor(np.array([2, 2]))]
    np.testing.assert_array_equal(out.data, [3.0, 3.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 2.0])


def test_boolean_mask_grad_is_the_mask():
    x = Tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    x[x > 0].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0, 0.0], [0.0, 1.0]])


def test_slices_with_steps_and_negative_indices():
    x = Tensor(np.arange(10.0), requires_grad=True)
    out = x[::-3]
    np.testing.assert_array_equal(out.data, [9.0, 6.0, 3.0, 0.0])
    (out * Tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert_grads_close(x.grad, [4, 0, 0, 3, 0, 0, 2, 0, 0, 1])


def test_iterating_a_tensor_gives_rows_that_backpropagate():
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    total = sum(row.sum() * (i + 1) for i, row in enumerate(x))
    total.backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])


@given(tst.arrays(min_dims=1))
def test_transpose_twice_is_identity(x):
    t = Tensor(x)
    np.testing.assert_array_equal(t.T.T.data, x)
    if x.ndim >= 2:
        np.testing.assert_array_equal(t.mT.mT.data, x)
        np.testing.assert_array_equal(t.transpose(0, -1).transpose(0, -1).data, x)


@given(tst.arrays(min_dims=1))
def test_reshape_view_and_flatten_agree(x):
    t = Tensor(x)
    np.testing.assert_array_equal(t.flatten().data, x.ravel())
    np.testing.assert_array_equal(t.reshape(-1).data, t.view(x.size).data)
    np.testing.assert_array_equal(t.reshape(x.shape).data, x)


def test_flatten_of_a_0d_tensor_has_one_element():
    assert Tensor(np.array(3.0)).flatten().shape == (1,)


def test_squeeze_of_a_dim_that_is_not_one_changes_nothing():
    x = Tensor(np.ones((2, 1, 3)))
    assert x.squeeze(0).shape == (2, 1, 3)
    assert x.squeeze(1).shape == (2, 3)
    assert x.squeeze().shape == (2, 3)


def test_expand_grad_sums_over_the_expanded_dims():
    x = Tensor([[1.0], [2.0]], requires_grad=True)
    x.expand(3, 2, 4).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[12.0], [12.0]])


def test_expand_minus_one_keeps_that_dim():
    x = Tensor([[1.0], [2.0]], requires_grad=True)
    assert x.expand(3, -1, 4).shape == (3, 2, 4) and x.expand(-1, -1).shape == (2, 1)
    x.expand((3, -1, 4)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[12.0], [12.0]])


def test_cat_gives_each_input_its_slice_of_the_gradient():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    y = Tensor(np.ones((2, 3)), requires_grad=True)
    z = Tensor(np.ones((2, 1)))  # needs no gradient
    weights = Tensor(np.arange(12.0).reshape(2, 6))
    (cat([x, y, z], dim=1) * weights).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 1.0], [6.0, 7.0]])
    np.testing.assert_array_equal(y.grad.data, [[2.0, 3.0, 4.0], [8.0, 9.0, 10.0]])
    assert z.grad is None


def test_stack_gives_each_input_its_slice_of_the_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([3.0, 4.0], requires_grad=True)
    out = stack([x, y], dim=1)
    np.testing.assert_array_equal(out.data, [[1.0, 3.0], [2.0, 4.0]])
    (out * Tensor([[1.0, 10.0], [100.0, 1000.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 100.0])
    np.testing.assert_array_equal(y.grad.data, [10.0, 1000.0])


def test_cat_and_stack_keep_each_inputs_dtype_in_the_gradient():
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    y = Tensor(np.ones(2, dtype=np.float64), requires_grad=True)
    for joined in (cat([x, y]), stack([x, y])):
        x.grad = y.grad = None
        assert joined.dtype == np.float64
        joined.sum().backward()
        assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
