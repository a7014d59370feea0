"""The strategies of the seed-document section of `tinygrad_edu.testing.strategies`."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu.testing import strategies as tst


@given(data=st.data(), count=st.integers(0, 6), num_classes=st.integers(1, 5))
def test_class_labels_are_indices_in_range(data, count, num_classes):
    labels = data.draw(tst.class_labels(count, num_classes))
    assert labels.shape == (count,) and labels.dtype == np.int64
    assert np.all((labels >= 0) & (labels < num_classes))


@given(data=st.data(), n_in=st.integers(1, 4), num_classes=st.integers(1, 4))
def test_column_batches_have_samples_as_columns(data, n_in, num_classes):
    x, y, labels = data.draw(tst.column_batches(n_in, num_classes, max_batch=5))
    m = x.shape[1]
    assert x.shape == (n_in, m) and 1 <= m <= 5 and np.all(np.abs(x) <= 2.0)
    assert y.shape == (num_classes, m) and labels.shape == (m,)
    np.testing.assert_array_equal(y.sum(axis=0), np.ones(m))       # one-hot columns
    np.testing.assert_array_equal(y.argmax(axis=0), labels)


@given(data=st.data(), n=st.integers(1, 5))
def test_unnormalized_targets_never_sum_to_one(data, n):
    y = data.draw(tst.unnormalized_targets((n, 1)))
    assert y.shape == (n, 1) and np.all(np.isfinite(y))
    assert abs(y.sum() - 1.0) >= 0.25 - 1e-9
