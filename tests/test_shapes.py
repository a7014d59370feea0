"""Broadcasting and dim helpers: normalize_dim(s), broadcast_shape, reduced_shape, unbroadcast,
sum_to and spread_to."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import DimError, ShapeError, Tensor
from tinygrad_edu.shapes import (
    SMALL_SPREAD,
    broadcast_shape,
    normalize_dim,
    normalize_dims,
    reduced_shape,
    spread_to,
    sum_to,
    summed_dims,
    unbroadcast,
)
from tinygrad_edu.testing import strategies as tst


@given(st.data(), st.integers(1, 5))
def test_normalize_dim_maps_negative_dims_like_python_indexing(data, ndim):
    dim = data.draw(st.integers(-ndim, ndim - 1))
    assert normalize_dim(dim, ndim, "op") == list(range(ndim))[dim]


def test_normalize_dim_names_the_op_the_shape_and_the_valid_range():
    with pytest.raises(DimError, match=r"^softmax: dim 3 is out of range for a tensor of shape "
                       r"\(2, 3\) \(ndim 2\); valid dims: \[-2, 1\]$"):
        normalize_dim(3, 2, "softmax", (2, 3))


def test_normalize_dim_of_a_0d_tensor_suggests_dim_none():
    with pytest.raises(DimError, match=r"a 0-d tensor has no dims; use dim=None"):
        normalize_dim(0, 0, "sum", ())


@pytest.mark.parametrize("dim", [1.0, True, "0"])
def test_normalize_dim_rejects_a_dim_that_is_not_an_int(dim):
    with pytest.raises(TypeError, match="op: dim must be an int"):
        normalize_dim(dim, 3, "op")


@given(tst.shapes(), st.data())
def test_normalize_dims_gives_sorted_non_negative_dims(shape, data):
    dim = data.draw(tst.reduction_dims(len(shape)))
    dims = normalize_dims(dim, shape, "op")
    assert list(dims) == sorted(set(dims)) and all(0 <= d < len(shape) for d in dims)
    if dim is None:
        assert dims == tuple(range(len(shape)))


def test_normalize_dims_rejects_a_dim_named_twice():
    with pytest.raises(DimError, match=r"^sum: dim \(1, -1\) names a dim twice for a tensor of "
                       r"shape \(2, 3\); list each dim once$"):
        normalize_dims((1, -1), (2, 3), "sum")


@given(hnp.mutually_broadcastable_shapes(num_shapes=3))
def test_broadcast_shape_matches_numpy(shapes):
    assert broadcast_shape("op", *shapes.input_shapes) == shapes.result_shape


def test_broadcast_shape_names_the_op_and_the_shapes():
    with pytest.raises(ShapeError, match=r"^add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        broadcast_shape("add", (2, 3), (4,))


@given(tst.shapes(), st.data(), st.booleans())
def test_reduced_shape_matches_numpy(shape, data, keepdim):
    dims = normalize_dims(data.draw(tst.reduction_dims(len(shape))), shape, "op")
    assert reduced_shape(shape, dims, keepdim) == np.ones(shape).sum(dims, keepdims=keepdim).shape


@given(st.data())
def test_unbroadcast_is_the_adjoint_of_broadcasting(data):
    # <broadcast(x), g> == <x, unbroadcast(g)> for every x and g: what backward relies on
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2))
    small, full = shapes.input_shapes[0], shapes.result_shape
    x = data.draw(tst.arrays(small))
    g = data.draw(tst.arrays(full))
    reduced = unbroadcast(Tensor(g), small)
    assert reduced.shape == small
    np.testing.assert_allclose(np.sum(np.broadcast_to(x, full) * g), np.sum(x * reduced.data),
                               rtol=1e-9, atol=1e-9)


@given(st.data())
def test_sum_to_is_unbroadcast_on_numpy_arrays(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2))
    small, full = shapes.input_shapes[0], shapes.result_shape
    g = data.draw(tst.arrays(full))
    summed = sum_to(g, small)
    assert isinstance(summed, np.ndarray) and summed.shape == small and summed.dtype == g.dtype
    np.testing.assert_allclose(summed, unbroadcast(Tensor(g), small).data, rtol=1e-12)


def test_summed_dims_names_prepended_and_stretched_dims():
    assert summed_dims((5, 2, 3, 4), (3, 1)) == ((0, 1), (1,))
    assert summed_dims((2, 3), (2, 3)) == ((), ())
    with pytest.raises(ShapeError, match=r"a gradient of shape \(3,\) cannot belong to an input "):
        sum_to(np.ones(3), (2, 3))


def test_unbroadcast_returns_the_same_tensor_when_nothing_was_broadcast():
    g = Tensor(np.ones((2, 3)))
    assert unbroadcast(g, (2, 3)) is g


def test_unbroadcast_sums_prepended_and_stretched_dims():
    g = Tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)).data,
                                  np.arange(24.0).reshape(2, 3, 4).sum(0).sum(1, keepdims=True))
    assert unbroadcast(g, ()).item() == np.arange(24.0).sum()


def test_unbroadcast_refuses_a_gradient_that_cannot_belong_to_the_input():
    with pytest.raises(ShapeError, match=r"a gradient of shape \(3,\) cannot belong to an input "
                       r"of shape \(2, 3\); the op's backward rule is wrong"):
        unbroadcast(Tensor(np.ones(3)), (2, 3))
    with pytest.raises(ShapeError, match=r"gradient of shape \(2, 4\) cannot belong to an "
                       r"input of shape \(2, 3\)"):
        unbroadcast(Tensor(np.ones((2, 4))), (2, 3))


@given(st.data())
def test_unbroadcast_records_a_graph_under_create_graph(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3))
    small, full = shapes.input_shapes[0], shapes.result_shape
    g = Tensor(data.draw(tst.arrays(full)), requires_grad=True)
    out = unbroadcast(g, small)
    assert out.requires_grad or out is g


@given(data=st.data(), large=st.booleans())
def test_spread_to_is_numpys_broadcast_small_written_out_large_a_view(data, large):
    shape = (3, SMALL_SPREAD) if large else data.draw(hnp.array_shapes(min_dims=0, max_side=5))
    kept = data.draw(st.integers(0, len(shape)))     # leading dims dropped, others 1 or kept
    source_shape = tuple(data.draw(st.sampled_from([1, n])) for n in shape[len(shape) - kept:])
    source = data.draw(hnp.arrays(np.float32, source_shape))
    out = spread_to(source, shape)
    np.testing.assert_array_equal(out, np.broadcast_to(source, shape))
    assert out.dtype == source.dtype and out.shape == shape
    assert out.flags.writeable != large              # a new array, or the read-only view
