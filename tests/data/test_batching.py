"""DataLoader and batches: coverage, alignment, reproducible shuffling, clear errors."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.data import DataLoader, batches

sizes = st.integers(min_value=0, max_value=300)
batch_sizes = st.integers(min_value=1, max_value=64)


def indices_seen(loader: DataLoader) -> np.ndarray:
    return np.concatenate([b[0] for b in loader] or [np.array([], dtype=int)])


@settings(deadline=None)
@given(n=sizes, batch_size=batch_sizes, shuffle=st.booleans(), seed=st.integers(0, 2**32))
def test_every_index_is_visited_exactly_once(n, batch_size, shuffle, seed):
    loader = DataLoader(np.arange(n), batch_size=batch_size, shuffle=shuffle, seed=seed)
    np.testing.assert_array_equal(np.sort(indices_seen(loader)), np.arange(n))


@settings(deadline=None)
@given(n=sizes, batch_size=batch_sizes, shuffle=st.booleans(), drop_last=st.booleans())
def test_len_is_the_number_of_batches_yielded(n, batch_size, shuffle, drop_last):
    loader = DataLoader(np.arange(n), batch_size=batch_size, shuffle=shuffle, seed=0,
                        drop_last=drop_last)
    sizes_seen = [len(b[0]) for b in loader]
    assert len(sizes_seen) == len(loader)
    assert len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
    assert all(size == batch_size for size in sizes_seen[:-1])


@settings(deadline=None)
@given(n=sizes, batch_size=batch_sizes, seed=st.integers(0, 2**32))
def test_drop_last_yields_only_full_batches_of_distinct_indices(n, batch_size, seed):
    loader = DataLoader(np.arange(n), batch_size=batch_size, shuffle=True, seed=seed,
                        drop_last=True)
    seen = indices_seen(loader)
    assert all(len(b[0]) == batch_size for b in loader)
    assert len(seen) == (n // batch_size) * batch_size == len(np.unique(seen))


def test_batches_keep_arrays_aligned():
    x = np.arange(50).reshape(25, 2)
    y = np.arange(25) * 10
    for xb, yb in DataLoader(x, y, batch_size=4, shuffle=True, seed=1):
        np.testing.assert_array_equal(xb[:, 0] * 5, yb)


def test_unshuffled_batches_are_views_in_order():
    x = np.arange(10)
    out = list(DataLoader(x, batch_size=4))
    assert [b[0].tolist() for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(np.shares_memory(b[0], x) for b in out)


def test_a_single_array_still_yields_tuples():
    (first,) = next(iter(DataLoader(np.arange(3), batch_size=2)))
    assert first.tolist() == [0, 1]


def test_same_seed_gives_the_same_batches():
    orders = [[b[0].tolist() for b in DataLoader(np.arange(40), batch_size=8, shuffle=True,
                                                 seed=7)] for _ in range(2)]
    assert orders[0] == orders[1]


def test_different_seeds_give_different_orders():
    first, second = (indices_seen(DataLoader(np.arange(100), batch_size=10, shuffle=True,
                                             seed=s)) for s in (1, 2))
    assert not np.array_equal(first, second)


def test_each_epoch_reshuffles_reproducibly():
    loader = DataLoader(np.arange(100), batch_size=10, shuffle=True, seed=3)
    epochs = [indices_seen(loader) for _ in range(3)]
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])
    again = DataLoader(np.arange(100), batch_size=10, shuffle=True, seed=3)
    for epoch in epochs:
        np.testing.assert_array_equal(indices_seen(again), epoch)


def test_epoch_permutation_is_drawn_from_seed_and_epoch():
    loader = DataLoader(np.arange(30), batch_size=30, shuffle=True, seed=5)
    loader.epoch = 4
    np.testing.assert_array_equal(indices_seen(loader),
                                  np.random.default_rng((5, 4)).permutation(30))
    assert loader.epoch == 5


def test_shuffle_without_seed_still_covers_everything():
    loader = DataLoader(np.arange(64), batch_size=5, shuffle=True)
    for _ in range(2):
        np.testing.assert_array_equal(np.sort(indices_seen(loader)), np.arange(64))


def test_lists_are_accepted_as_arrays():
    (xb, yb), = DataLoader([[1, 2], [3, 4]], [0, 1], batch_size=2)
    assert isinstance(xb, np.ndarray) and xb.shape == (2, 2) and yb.tolist() == [0, 1]


def test_empty_arrays_give_no_batches():
    loader = DataLoader(np.zeros((0, 3)), batch_size=4, shuffle=True, seed=0)
    assert len(loader) == 0 and list(loader) == []


def test_batches_is_one_epoch_of_a_loader():
    x, y = np.arange(20), np.arange(20) % 3
    got = [(a.tolist(), b.tolist()) for a, b in batches(x, y, batch_size=6, shuffle=True, seed=9)]
    expected = [(a.tolist(), b.tolist())
                for a, b in DataLoader(x, y, batch_size=6, shuffle=True, seed=9)]
    assert got == expected


def test_different_lengths_are_rejected_with_both_shapes():
    with pytest.raises(ValueError, match=r"different lengths \[5, 4\] \(shapes \(5, 2\), \(4,\)\)"):
        DataLoader(np.zeros((5, 2)), np.zeros(4), batch_size=2)


def test_batches_rejects_bad_arguments_at_the_call():
    with pytest.raises(ValueError, match="different lengths"):
        batches(np.zeros(3), np.zeros(2), batch_size=1)


@pytest.mark.parametrize("batch_size", [0, -3])
def test_batch_size_below_one_is_rejected(batch_size):
    with pytest.raises(ValueError, match=rf"batch_size must be at least 1, got {batch_size}"):
        DataLoader(np.zeros(3), batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [2.0, True, "4"])
def test_non_integer_batch_size_is_rejected(batch_size):
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(np.zeros(3), batch_size=batch_size)


def test_numpy_integer_batch_size_is_accepted():
    assert len(DataLoader(np.zeros(5), batch_size=np.int64(2))) == 3


def test_no_arrays_is_rejected():
    with pytest.raises(ValueError, match="pass at least one array"):
        DataLoader(batch_size=2)


def test_scalar_array_is_rejected():
    with pytest.raises(ValueError, match="array 1 is 0-d"):
        DataLoader(np.zeros(3), np.float64(1.0), batch_size=2)


def test_repr_names_the_settings():
    text = repr(DataLoader(np.zeros(6), np.zeros(6), batch_size=4, shuffle=True, seed=1))
    assert text == ("DataLoader(2 arrays of 6 samples, batch_size=4, shuffle=True, seed=1, "
                    "drop_last=False)")


@pytest.mark.parametrize(("seed", "error", "message"), [
    (-1, ValueError, "seed must be >= 0 (numpy's generators take non-negative seeds), got -1"),
    (1.5, TypeError, "seed must be None or an int, got float 1.5"),
    ("0", TypeError, "seed must be None or an int, got str '0'"),
    (True, TypeError, "seed must be None or an int, got bool True"),
])
def test_trust_15_dataloader_checks_its_seed_when_made(seed, error, message):
    # numpy refused a negative or fractional seed only at the first shuffled epoch, with
    # "expected non-negative integer" and no word of the DataLoader
    with pytest.raises(error, match=re.escape(f"DataLoader: {message}")):
        DataLoader(np.arange(5), batch_size=2, shuffle=True, seed=seed)


def test_first_05_manual_seed_repeats_unseeded_shuffling():
    import tinygrad_edu
    x = np.arange(10)
    tinygrad_edu.manual_seed(3)
    first = [b.tolist() for (b,) in DataLoader(x, batch_size=5, shuffle=True)]
    tinygrad_edu.manual_seed(3)
    assert [b.tolist() for (b,) in DataLoader(x, batch_size=5, shuffle=True)] == first
