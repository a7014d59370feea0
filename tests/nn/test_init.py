"""Initialisers: bounds, variances, seeding, and the seed documents' own formulas."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu.nn import init

SHAPE = (256, 784)  # (out_features, in_features): fan_in 784, fan_out 256


def test_uniform_defaults_are_documents_000_003_rand_minus_half():
    """Documents 000/003: `np.random.rand(10, 784) - 0.5`, uniform in [-0.5, 0.5)."""
    expected = np.random.default_rng(7).random((10, 784)) - 0.5
    np.testing.assert_array_equal(init.uniform((10, 784), np.random.default_rng(7)),
                                  expected.astype(np.float32))


def test_uniform_zero_to_a_hundredth_is_document_002_rand_times_001():
    """Document 002: `np.random.rand(rows, cols) * 0.01`, uniform in [0, 0.01)."""
    expected = np.random.default_rng(7).random((392, 784)) * 0.01
    got = init.uniform((392, 784), np.random.default_rng(7), low=0.0, high=0.01)
    np.testing.assert_array_equal(got, expected.astype(np.float32))


@given(low=st.floats(-5, 5), width=st.floats(0.01, 5), seed=st.integers(0, 2**32 - 1))
def test_uniform_stays_in_low_high(low, width, seed):
    values = init.uniform((50,), seed, low=low, high=low + width, dtype=np.float64)
    assert values.min() >= low and values.max() < low + width


@pytest.mark.parametrize("name", ["kaiming_uniform", "kaiming_normal", "xavier_uniform",
                                  "xavier_normal", "uniform", "normal", "zeros"])
def test_every_initializer_is_float32_by_default_and_seeded(name):
    fn = init.INITIALIZERS[name]
    a, b = fn(SHAPE, np.random.default_rng(1)), fn(SHAPE, np.random.default_rng(1))
    assert a.dtype == np.float32 and a.shape == SHAPE
    np.testing.assert_array_equal(a, b)
    assert fn(SHAPE, 0, dtype=np.float64).dtype == np.float64


def test_kaiming_uniform_bound_and_variance():
    w = init.kaiming_uniform(SHAPE, 0)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 784)
    assert np.abs(w).max() <= bound
    assert w.var() == pytest.approx(2.0 / 784, rel=0.03)          # He: Var = 2 / fan_in


def test_kaiming_normal_variance_and_fan_out_mode():
    assert init.kaiming_normal(SHAPE, 0).var() == pytest.approx(2.0 / 784, rel=0.03)
    assert init.kaiming_normal(SHAPE, 0, mode="fan_out").var() == pytest.approx(2.0 / 256,
                                                                                rel=0.03)


def test_xavier_variances():
    expected = 2.0 / (784 + 256)                                   # Glorot: 2 / (in + out)
    assert init.xavier_uniform(SHAPE, 0).var() == pytest.approx(expected, rel=0.03)
    assert init.xavier_normal(SHAPE, 0).var() == pytest.approx(expected, rel=0.03)
    bound = math.sqrt(6.0 / (784 + 256))
    assert np.abs(init.xavier_uniform(SHAPE, 0)).max() <= bound


def test_calculate_gain_matches_pytorch():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("sigmoid") == 1.0
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        init.calculate_gain("gelu")


def test_fan_based_initializers_need_a_matrix_shape():
    with pytest.raises(ValueError, match=r"kaiming_uniform: needs a weight shape .* got \(10,\)"):
        init.kaiming_uniform((10,), 0)
    with pytest.raises(ValueError, match="xavier_normal: needs a weight shape"):
        init.xavier_normal((2, 3, 4), 0)


def test_kaiming_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan'"):
        init.kaiming_uniform(SHAPE, 0, mode="fan")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="uniform: needs low < high"):
        init.uniform((2,), 0, low=1.0, high=1.0)
    with pytest.raises(ValueError, match="normal: std must be >= 0"):
        init.normal((2,), 0, std=-1.0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init.uniform((2,), rng="seed")


def test_get_initializer_passes_callables_through():
    def fn(shape, rng):
        return np.zeros(shape)

    assert init.get_initializer(fn) is fn
    assert init.get_initializer("kaiming_normal") is init.kaiming_normal
