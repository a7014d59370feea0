"""Data for tinygrad_edu: MNIST and Fashion-MNIST loaders, a shipped MNIST sample, batching.

Everything here works on plain numpy arrays.
"""

from .batching import DataLoader, batches
from .fetch import MIRRORS, SHA256, DownloadError, download
from .idx import IDXError, read_idx, write_idx
from .locate import ENV_VAR, cache_dir, find_dataset, search_dirs
from .mnist import DatasetNotFoundError, fashion_mnist, mnist
from .shipped import SAMPLE_SIZE, SAMPLE_TEST_SIZE, mnist_sample
from .transforms import flatten, scale, to_float

__all__ = [
    "DataLoader",
    "batches",
    "IDXError",
    "read_idx",
    "write_idx",
    "ENV_VAR",
    "MIRRORS",
    "SHA256",
    "DatasetNotFoundError",
    "DownloadError",
    "cache_dir",
    "download",
    "fashion_mnist",
    "find_dataset",
    "mnist",
    "search_dirs",
    "SAMPLE_SIZE",
    "SAMPLE_TEST_SIZE",
    "mnist_sample",
    "flatten",
    "scale",
    "to_float",
]
