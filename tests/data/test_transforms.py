"""flatten, scale, to_float; and the docstring examples of every data module run."""

import doctest
import importlib

import numpy as np
import pytest

from tinygrad_edu.data import flatten, scale, to_float


def test_flatten_makes_one_row_per_image():
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    out = flatten(images)
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out[1], np.arange(12, 24))


def test_flatten_rejects_a_single_unbatched_vector():
    with pytest.raises(ValueError, match=r"got shape \(784,\).*x\[None\]"):
        flatten(np.zeros(784))


def test_scale_maps_0_and_255_to_0_and_1():
    out = scale(np.array([[0, 255], [51, 102]], dtype=np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 1.0], [0.2, 0.4]], rtol=1e-7)


def test_scale_honours_dtype():
    out = scale(np.array([1], dtype=np.uint8), dtype=np.float64)
    assert out.dtype == np.float64 and out[0] == 1 / 255


def test_scale_rejects_already_scaled_floats():
    with pytest.raises(TypeError, match=r"expected uint8 pixels 0..255, got float32.*skip scale"):
        scale(np.zeros(3, dtype=np.float32))


def test_scale_rejects_integer_target_dtype():
    with pytest.raises(TypeError, match="dtype must be a float type"):
        scale(np.zeros(3, dtype=np.uint8), dtype=np.int32)


def test_to_float_flattens_and_scales():
    images = np.full((3, 28, 28), 255, dtype=np.uint8)
    images[0, 0, 0] = 0
    out = to_float(images)
    assert out.shape == (3, 784) and out.dtype == np.float32
    assert out[0, 0] == 0.0 and out[0, 1] == 1.0 and out.max() == 1.0


MODULES = ["idx", "locate", "fetch", "mnist", "shipped", "batching", "transforms"]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"tinygrad_edu.data.{module}"))
    assert result.failed == 0
    assert result.attempted > 0
