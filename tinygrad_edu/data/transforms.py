"""Turn uint8 image arrays into what a model takes: flat rows of floats in [0, 1]."""

from __future__ import annotations

import numpy as np

__all__ = ["flatten", "scale", "to_float"]


def flatten(images: np.ndarray) -> np.ndarray:
    """Flatten each image to one row: shape (N, H, W) -> (N, H * W).

    Parameters
    ----------
    images : numpy.ndarray
        At least 2-d; the first dimension counts the images.

    Returns
    -------
    numpy.ndarray
        Shape (N, prod(rest)); a view when the input is contiguous.

    Raises
    ------
    ValueError
        If ``images`` has fewer than 2 dimensions.

    Examples
    --------
    >>> flatten(np.zeros((5, 28, 28), dtype=np.uint8)).shape
    (5, 784)
    """
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"flatten: expected images of shape (N, H, W), got shape "
                         f"{images.shape}; a single image needs a batch dimension: x[None]")
    return images.reshape(len(images), -1)


def scale(images: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Map uint8 pixels 0..255 to floats 0.0..1.0 (divide by 255).

    Parameters
    ----------
    images : numpy.ndarray
        uint8, any shape.
    dtype : numpy dtype
        A floating dtype for the result.

    Returns
    -------
    numpy.ndarray
        Same shape, dtype ``dtype``, values in [0, 1].

    Raises
    ------
    TypeError
        If ``images`` is not uint8 (scaling twice is a common slip) or ``dtype`` is not
        a floating type.

    Examples
    --------
    >>> scale(np.array([0, 51, 255], dtype=np.uint8))
    array([0. , 0.2, 1. ], dtype=float32)
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"scale: expected uint8 pixels 0..255, got {images.dtype}; "
                        f"if the images are already floats in [0, 1], skip scale")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"scale: dtype must be a float type such as np.float32, got {dtype}")
    return images.astype(dtype) / np.asarray(255, dtype=dtype)


def to_float(images: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Flatten and scale: uint8 (N, 28, 28) -> float (N, 784) in [0, 1].

    Parameters
    ----------
    images : numpy.ndarray
        uint8, shape (N, H, W).
    dtype : numpy dtype
        A floating dtype for the result.

    Returns
    -------
    numpy.ndarray
        Shape (N, H * W), dtype ``dtype``.

    Examples
    --------
    >>> x = to_float(np.full((2, 28, 28), 255, dtype=np.uint8))
    >>> x.shape, x.dtype, float(x.max())
    ((2, 784), dtype('float32'), 1.0)
    """
    return scale(flatten(images), dtype)
