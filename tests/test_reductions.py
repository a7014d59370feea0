"""tinygrad_edu.reductions: the faster routes give numpy's sums and maxima (and ReLU's).

Each function is compared with the numpy reduce it replaces, on shapes on both sides of
every switch (rows at, below and above SHORT_ROW; fewer and more rows than SHORT_ROW),
with NaN, infinities and empty dims; the maxima must match exactly, the sums within the
rounding of float additions. The ops that call them (softmax, log_softmax, cross-entropy,
sum, mean, a bias's gradient) are checked against central differences in tests/ops.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Tensor
from tinygrad_edu.nn import functional as F
from tinygrad_edu.reductions import SHORT_ROW, _filled, relu, shifted_along, sum_along, sum_rows

SIZES = st.sampled_from([0, 1, 2, 7, SHORT_ROW - 1, SHORT_ROW, SHORT_ROW + 1, 130])
FLOATS = st.sampled_from([np.float32, np.float64])


def matrices(dtype, elements=None):
    shape = st.tuples(SIZES, SIZES)
    if elements is None:
        elements = st.floats(-1e3, 1e3, width=np.dtype(dtype).itemsize * 8)
    return hnp.arrays(dtype, shape, elements=elements)


def _sum_tolerance(a, axis):
    # float additions: each partial sum may round, by at most eps * (sum of |terms|)
    n = max(a.shape[axis], 1)
    return n * np.finfo(a.dtype).eps * np.add.reduce(np.abs(a.astype(np.float64)), axis=axis)


@given(data=st.data(), dtype=FLOATS, axis=st.sampled_from([0, 1]), keepdims=st.booleans())
def test_sum_along_matches_add_reduce(data, dtype, axis, keepdims):
    a = data.draw(matrices(dtype))
    got, want = sum_along(a, (axis,), keepdims), np.add.reduce(a, axis=axis, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == want.dtype
    tolerance = _sum_tolerance(a, axis)
    assert np.all(np.abs(got.astype(np.float64) - want).reshape(tolerance.shape) <= tolerance)


@given(data=st.data(), dtype=FLOATS, dim=st.sampled_from([0, 1]))
def test_shifted_along_matches_numpy_exactly(data, dtype, dim):
    a = data.draw(matrices(dtype, st.floats(allow_nan=True, allow_infinity=True,
                                            width=np.dtype(dtype).itemsize * 8)))
    if a.shape[dim] == 0:  # the maximum of no elements: numpy's error, either way
        with pytest.raises(ValueError):
            shifted_along(a, dim)
        return
    before = a.copy()
    column_major = np.asfortranarray(a)
    with np.errstate(invalid="ignore"):  # inf - inf is NaN, on both routes
        got = shifted_along(a, dim)
        want = a - np.maximum.reduce(a, axis=dim, keepdims=True)
        got_from_column_major = shifted_along(column_major, dim)  # (its transpose: no copy)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)  # NaNs in the same places, the same differences
    np.testing.assert_array_equal(got_from_column_major, want)
    np.testing.assert_array_equal(a, before)  # the inputs are left alone
    np.testing.assert_array_equal(column_major, before)


@given(a=hnp.arrays(st.sampled_from([np.float16, np.int32, np.bool_]),
                    hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)))
def test_other_dtypes_and_dims_take_numpys_own_reduce(a):
    np.testing.assert_array_equal(sum_rows(a), np.add.reduce(a, axis=0))
    np.testing.assert_array_equal(sum_along(a, (0,)), np.add.reduce(a, axis=(0,)))


@given(a=hnp.arrays(st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64,
                                      np.bool_]), hnp.array_shapes(min_dims=0, max_dims=3)))
def test_relu_is_maximum_with_zero_bit_for_bit(a):
    # the same values, dtype and signs of zero as numpy's maximum with the scalar 0; NaN stays
    got, want = relu(a), np.maximum(a, 0)
    assert np.shape(got) == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    if a.dtype.kind == "f":
        assert np.array_equal(np.signbit(got), np.signbit(want))


def test_relu_of_a_view_leaves_its_base_alone():
    base = np.arange(-6.0, 6.0, dtype=np.float32).reshape(3, 4)
    before = base.copy()
    np.testing.assert_array_equal(relu(base.T), np.maximum(base.T, 0))
    np.testing.assert_array_equal(base, before)


@pytest.mark.parametrize("shape, value", [((3,), 1), ((2, 3), 0)])
def test_the_shared_constant_arrays_cannot_be_changed(shape, value):
    sum_rows(np.ones((3, 2), np.float32))
    relu(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError):
        _filled(shape, np.dtype(np.float32), value)[0] = 2.0


def test_large_logits_stay_finite_on_the_transposed_route():
    # 128 rows of 10 scores take shifted_along's transposed copy: the shift is still the max
    logits = np.full((128, 10), 1e4, np.float32)
    logits[:, 3] += 50
    x = Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, np.full(128, 3))
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad.data))
    assert np.allclose(x.log_softmax(dim=1).data[:, 3], 0, atol=1e-6)
