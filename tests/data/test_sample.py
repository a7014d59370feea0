"""The shipped MNIST sample: real data, intact, with a fixed 8,000 / 2,000 split."""

import hashlib
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu.data import SAMPLE_SIZE, SAMPLE_TEST_SIZE, mnist_sample
from tinygrad_edu.data.shipped import SAMPLE_FILES

REPO = Path(__file__).resolve().parents[2]
CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
FILE_SHA256 = {  # as listed in tinygrad_edu/data/sample/PROVENANCE.md
    "sample-images-idx3-ubyte.gz":
        "d87fd0f938d66223355b110518736bcfbfb80ee213a9454641d2d85de1220ee8",
    "sample-labels-idx1-ubyte.gz":
        "a704e9399978f96054f9fd3553b02eae8ec63422d49a814d2268be64dbbd00c5",
}
FIRST_IMAGE_SHA256 = "018870cda6fe67481a0daa2014cb64ba620c8826467fe9913bc9748ed921b8fb"


def test_sample_holds_10000_uint8_images_and_int64_labels():
    images, labels = mnist_sample()
    assert SAMPLE_SIZE == 10_000
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.int64


def test_sample_class_counts_are_those_of_the_first_10000_mnist_training_images():
    _, labels = mnist_sample()
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), CLASS_COUNTS)


def test_sample_pixels_use_the_full_byte_range():
    images, _ = mnist_sample()
    assert images.min() == 0 and images.max() == 255


def test_shipped_files_have_the_provenance_sha256():
    folder = resources.files("tinygrad_edu.data") / "sample"
    for name, digest in FILE_SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest


def test_provenance_lists_the_shipped_sha256():
    text = (resources.files("tinygrad_edu.data") / "sample" / "PROVENANCE.md").read_text()
    for name, digest in FILE_SHA256.items():
        assert f"{digest}  {name}" in text


def test_first_image_of_the_shipped_order_is_a_known_six():
    images, labels = mnist_sample()
    assert hashlib.sha256(images[0].tobytes()).hexdigest() == FIRST_IMAGE_SHA256
    assert labels[0] == 6


def test_split_sizes_are_8000_and_2000():
    assert SAMPLE_TEST_SIZE == 2_000
    assert len(mnist_sample("train")[0]) == 8_000 and len(mnist_sample("train")[1]) == 8_000
    assert len(mnist_sample("test")[0]) == 2_000 and len(mnist_sample("test")[1]) == 2_000


def test_train_then_test_is_all():
    (x_train, y_train), (x_test, y_test) = mnist_sample("train"), mnist_sample("test")
    x_all, y_all = mnist_sample("all")
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), x_all)
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), y_all)


def test_train_and_test_share_no_image():
    train = {image.tobytes() for image in mnist_sample("train")[0]}
    test = {image.tobytes() for image in mnist_sample("test")[0]}
    assert len(train) == 8_000 and len(test) == 2_000 and not train & test


def test_test_split_holds_every_digit():
    _, labels = mnist_sample("test")
    assert np.bincount(labels).min() >= 150  # a shuffled 20%: about 200 of each


def test_callers_get_copies():
    images, labels = mnist_sample("test")
    images[:] = 0
    labels[:] = -1
    again_images, again_labels = mnist_sample("test")
    assert again_images.max() == 255 and again_labels.min() == 0


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match=r"unknown split 'val'; choose one of \['all', 'test'"):
        mnist_sample("val")


def test_sample_loads_from_a_zipped_package(tmp_path):
    """As from a wheel: the package in a zip (files chosen like setuptools: the .py files
    plus the pyproject's package-data globs), imported in a fresh interpreter."""
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["tinygrad_edu.data"]
    package_dir = REPO / "tinygrad_edu"
    data_files = {p for g in globs for p in (package_dir / "data").glob(g)}
    assert {p.name for p in data_files} >= set(SAMPLE_FILES)
    archive = tmp_path / "tinygrad_edu.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(set(package_dir.rglob("*.py")) | data_files):
            zf.write(path, path.relative_to(REPO).as_posix())
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import tinygrad_edu.data as d\n"
        "assert d.__file__.startswith(sys.argv[1]), d.__file__\n"
        "x, y = d.mnist_sample('test')\n"
        "print(x.shape, int(y.sum()))\n"
    )
    result = subprocess.run([sys.executable, "-I", "-c", code, str(archive)],
                            capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"(2000, 28, 28) {int(mnist_sample('test')[1].sum())}"
