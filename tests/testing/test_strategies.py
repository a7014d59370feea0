"""The strategies produce what they promise: shapes, bounds, finite values, valid targets."""

import importlib
import sys

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.testing import strategies as tst

FIRST_FIND = settings(phases=[Phase.generate], max_examples=200, database=None)  # no shrinking


def first(strategy, condition=lambda value: True):
    """The first drawn value that meets `condition` (errors in the strategy propagate)."""
    return find(strategy, condition, settings=FIRST_FIND)


@given(tst.floats(min_value=-2.0, max_value=3.0, min_magnitude=0.5))
def test_floats_are_bounded_and_away_from_zero(v):
    assert -2.0 <= v <= 3.0 and abs(v) >= 0.5


@given(tst.floats(np.float32, min_value=0.1, max_value=0.7))
def test_float32_floats_accept_bounds_float32_cannot_hold(v):
    assert 0.1 <= v <= 0.7
    assert float(np.float32(v)) == v


@given(tst.shapes(min_dims=1, max_dims=3, max_side=4))
def test_shapes_respect_their_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(1 <= n <= 4 for n in shape)


@given(tst.arrays(min_value=-1.5, max_value=2.5))
def test_arrays_are_float64_bounded_and_finite(x):
    assert x.dtype == np.float64
    assert np.isfinite(x).all() and (x >= -1.5).all() and (x <= 2.5).all()
    assert x.ndim <= tst.MAX_DIMS and all(n <= tst.MAX_SIDE for n in x.shape)


@given(tst.arrays((2, 3), dtype=np.float32, min_value=0.1))
def test_arrays_take_a_fixed_shape_and_float32(x):
    assert x.shape == (2, 3) and x.dtype == np.float32 and (x >= np.float32(0.1)).all()


@given(tst.arrays(min_magnitude=0.25))
def test_arrays_keep_min_magnitude(x):
    assert (np.abs(x) >= 0.25).all()


@given(tst.tensors(shape=(3,), requires_grad=True))
def test_tensors_wrap_arrays(t):
    assert isinstance(t, Tensor) and t.requires_grad and t.shape == (3,)
    assert t.dtype == np.float64


@given(tst.broadcastable_arrays(3, min_value=-1.0, max_value=1.0))
def test_broadcastable_arrays_broadcast(arrays):
    assert len(arrays) == 3
    np.broadcast_shapes(*(a.shape for a in arrays))
    assert all((np.abs(a) <= 1.0).all() for a in arrays)


@given(tst.broadcastable_tensors(2, requires_grad=True))
def test_broadcastable_tensors_broadcast(tensors):
    x, y = tensors
    assert x.requires_grad and y.requires_grad
    assert (x + y).shape == np.broadcast_shapes(x.shape, y.shape)


@given(tst.matmul_arrays())
def test_matmul_arrays_multiply(operands):
    x, y = operands
    assert x.ndim >= 1 and y.ndim >= 1
    np.matmul(x, y)  # raises if the inner or batch dims do not fit


@pytest.mark.parametrize("kind", [
    lambda x, y: x.ndim == 1,
    lambda x, y: y.ndim == 1,
    lambda x, y: x.ndim == 2 and y.ndim == 2,
    lambda x, y: x.ndim >= 3 and y.ndim >= 3 and x.shape[:-2] != y.shape[:-2],
], ids=["1d-left", "1d-right", "2d", "broadcast-batch"])
def test_matmul_arrays_cover_1d_2d_and_batched(kind):
    x, y = first(tst.matmul_arrays(), lambda pair: kind(*pair))
    np.matmul(x, y)


@given(tst.logits_and_targets(min_classes=2, max_classes=6))
def test_index_targets_are_valid_class_indices(pair):
    logits, labels = pair
    assert labels.dtype.kind == "i" and labels.shape == logits.shape[:1]
    assert ((labels >= 0) & (labels < logits.shape[1])).all()


@given(tst.logits_and_targets(kind="onehot"))
def test_onehot_targets_are_one_hot_rows(pair):
    logits, target = pair
    assert target.shape == logits.shape
    assert set(np.unique(target)) <= {0.0, 1.0}
    np.testing.assert_array_equal(target.sum(axis=1), 1.0)


@given(tst.logits_and_targets(kind="soft"))
def test_soft_labels_are_probabilities_summing_to_one(pair):
    logits, target = pair
    assert (target >= 0).all()
    np.testing.assert_allclose(target.sum(axis=1), 1.0, rtol=1e-12)


@given(tst.logits_and_targets(kind="soft", dtype=np.float32))
def test_soft_labels_in_float32(pair):
    logits, target = pair
    assert logits.dtype == target.dtype == np.float32
    np.testing.assert_allclose(target.sum(axis=1), 1.0, rtol=1e-6)


def test_logits_and_targets_reject_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be 'index', 'onehot' or 'soft'"):
        first(tst.logits_and_targets(kind="hard"))


@given(tst.layer_sizes(min_layers=2, max_layers=4, max_width=5))
def test_layer_sizes_have_one_more_entry_than_layers(sizes):
    assert 3 <= len(sizes) <= 5 and all(1 <= n <= 5 for n in sizes)


@given(tst.mlp_params())
def test_mlp_params_in_rows_layout_chain(params):
    for (w, _), (w_next, _) in zip(params[:-1], params[1:], strict=True):
        assert w.shape[1] == w_next.shape[0]
    for w, b in params:
        assert b.shape == (w.shape[1],)
        assert (np.abs(w) <= 1.0).all() and (np.abs(b) <= 1.0).all()


@given(tst.mlp_params(layout="columns", sizes=[4, 3, 2]))
def test_mlp_params_in_columns_layout_chain(params):
    assert [(w.shape, b.shape) for w, b in params] == [((3, 4), (3, 1)), ((2, 3), (2, 1))]


@given(st.data())
def test_mlp_params_run_a_forward_pass(data):
    params = data.draw(tst.mlp_params())
    x = data.draw(tst.arrays((2, params[0][0].shape[0])))
    h = Tensor(x)
    for w, b in params:
        h = (h @ Tensor(w) + Tensor(b)).tanh()
    assert h.shape == (2, params[-1][0].shape[1])


# ---- the strategies added with this test suite ----------------------------------------------


@given(tst.arrays_avoiding((-1.0, 1.0), 0.05, min_value=-3.0, max_value=3.0))
def test_arrays_avoiding_keep_away_from_the_points(x):
    assert (np.abs(x - 1.0) >= 0.05).all() and (np.abs(x + 1.0) >= 0.05).all()
    assert (np.abs(x) <= 3.0).all()


def test_arrays_avoiding_refuse_a_range_with_no_room():
    with pytest.raises(ValueError, match=r"no value in \[-1\.0, 1\.0\] lies 2\.0 away"):
        tst.arrays_avoiding((0.0,), 2.0, min_value=-1.0, max_value=1.0)


@given(tst.distinct_arrays(min_gap=0.5, min_value=-20.0, max_value=20.0))
def test_distinct_arrays_are_pairwise_apart(x):
    values = np.sort(x, axis=None)
    assert (np.diff(values) >= 0.5 - 1e-9).all()
    assert (np.abs(x) <= 20.0).all()


@given(tst.distinct_arrays((4, 4), dtype=np.float32))
def test_distinct_arrays_in_float32(x):
    assert x.dtype == np.float32 and len(np.unique(x)) == 16


@given(tst.distinct_arrays(min_gap=1.0, min_value=0.0, max_value=5.0))
def test_distinct_arrays_draw_only_shapes_whose_values_fit(x):
    assert x.size <= 6 and len(np.unique(x)) == x.size    # 0, 1, ..., 5: six grid points


@given(tst.distinct_broadcastable_arrays(2, min_gap=1.0, min_value=0.0, max_value=9.0))
def test_distinct_broadcastable_arrays_draw_only_shapes_whose_values_fit(pair):
    values = np.concatenate([a.reshape(-1) for a in pair])
    assert values.size <= 10 and len(np.unique(values)) == values.size


def test_distinct_arrays_refuse_more_values_than_fit():
    with pytest.raises(ValueError, match=r"5 values 0\.5 apart do not fit in \[0\.0, 1\.0\]"):
        first(tst.distinct_arrays((5,), min_value=0.0, max_value=1.0, min_gap=0.5))


@given(tst.distinct_broadcastable_arrays(2))
def test_distinct_broadcastable_arrays_broadcast_without_ties(arrays):
    x, y = arrays
    np.broadcast_shapes(x.shape, y.shape)
    both = np.concatenate([x.ravel(), y.ravel()])
    assert len(np.unique(both)) == both.size


def test_strategies_without_hypothesis_name_the_testing_extra(monkeypatch):
    with monkeypatch.context() as patch:  # undone before hypothesis' own hooks run again
        patch.setitem(sys.modules, "hypothesis", None)
        patch.setitem(sys.modules, "hypothesis.extra.numpy", None)
        patch.delitem(sys.modules, "tinygrad_edu.testing.strategies")
        with pytest.raises(ImportError, match=r"tinygrad_edu\[testing\]"):
            importlib.import_module("tinygrad_edu.testing.strategies")


# ---- issue 18: image batches and convolution / pooling arguments -----------------------------


@given(tst.image_batches(channels=3, max_side=5))
def test_cnn_image_batches_are_nchw(x):
    assert x.ndim == 4 and x.shape[1] == 3 and max(x.shape[2:]) <= 5 and x.dtype == np.float64


@given(tst.image_batches(distinct=True))
def test_cnn_distinct_image_batches_have_no_near_ties(x):
    assert x.size < 2 or np.diff(np.sort(x, axis=None)).min() >= 0.01 - 1e-12


@given(tst.conv_cases())
def test_cnn_conv_cases_fit_together(case):
    x, w, groups = case["x"], case["weight"], case["groups"]
    assert x.shape[1] == w.shape[1] * groups and w.shape[0] % groups == 0
    assert case["bias"] is None or case["bias"].shape == (w.shape[0],)
    for side, k, p, d in zip(x.shape[2:], w.shape[2:], case["padding"], case["dilation"],
                             strict=True):
        assert side + 2 * p >= d * (k - 1) + 1          # every output side is at least 1


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_cnn_pool_cases_fit_together(kind, data):
    case = data.draw(tst.pool_cases(kind))
    for side, k, s, p, d in zip(case["x"].shape[2:], case["kernel_size"], case["stride"],
                                case["padding"], case.get("dilation", (1, 1)), strict=True):
        assert 2 * p <= k and side + 2 * p >= d * (k - 1) + 1
        if kind == "max":          # no window of padding alone (its maximum would be -inf)
            assert tst._windows_see_input(side, k, s, p, d, case["ceil_mode"])


def test_cnn_pool_cases_refuse_an_unknown_kind():
    with pytest.raises(ValueError, match=r"pool_cases: kind must be 'max' or 'avg'"):
        find(tst.pool_cases("min"), lambda case: True)
