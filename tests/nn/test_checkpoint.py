"""Checkpoints: round trips, metadata, atomic writes, and the errors of load."""

import os

import numpy as np
import pytest

import tinygrad_edu
from tinygrad_edu import Tensor
from tinygrad_edu.nn import (
    Checkpoint,
    CheckpointError,
    Linear,
    ReLU,
    Sequential,
    StateDictError,
    load,
    save,
)
from tinygrad_edu.nn import checkpoint as checkpoint_module


def model(seed=0, hidden=3):
    return Sequential(Linear(4, hidden, rng=seed), ReLU(), Linear(hidden, 2, rng=seed + 1))


def leftovers(folder, keep):
    return sorted(name for name in os.listdir(folder) if name != keep)


def test_round_trip_restores_every_parameter(tmp_path):
    source, target = model(0), model(1)
    path = save(source, tmp_path / "model.npz")
    target.load_state_dict(load(path))
    for (name, a), (_, b) in zip(source.named_parameters(), target.named_parameters(),
                                 strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
        assert b.data.dtype == np.float32


def test_metadata_round_trip_with_numpy_values(tmp_path):
    meta = {"epoch": np.int64(3), "accuracy": np.float32(0.5), "sizes": np.array([784, 10]),
            "config": {"preset": "zhang", "lr": 0.1}}
    ckpt = load(save(model(), tmp_path / "m.npz", metadata=meta))
    assert ckpt.metadata == {"epoch": 3, "accuracy": 0.5, "sizes": [784, 10],
                             "config": {"preset": "zhang", "lr": 0.1}}
    assert isinstance(ckpt, Checkpoint) and checkpoint_module.METADATA_KEY not in ckpt


def test_no_metadata_loads_as_an_empty_dict(tmp_path):
    assert load(save(model(), tmp_path / "m.npz")).metadata == {}


def test_save_accepts_a_state_dict_of_arrays_and_tensors(tmp_path):
    path = save({"w": np.arange(3.0), "t": Tensor([1.0, 2.0])}, tmp_path / "sd.npz")
    ckpt = load(path)
    np.testing.assert_array_equal(ckpt["w"], np.arange(3.0))
    np.testing.assert_array_equal(ckpt["t"], np.array([1.0, 2.0], np.float32))


def test_top_level_save_and_load_are_the_same_functions():
    assert tinygrad_edu.save is save and tinygrad_edu.load is load


def test_file_is_a_plain_npz_readable_without_pickle(tmp_path):
    path = save(model(), tmp_path / "m.npz", metadata={"epoch": 1})
    with np.load(path, allow_pickle=False) as archive:
        assert set(archive.files) == {"0.weight", "0.bias", "2.weight", "2.bias",
                                      "__metadata__"}
        assert archive["__metadata__"].shape == () and archive["__metadata__"].dtype.kind == "U"


def test_loading_into_a_model_of_other_sizes_lists_the_differences(tmp_path):
    path = save(model(hidden=3), tmp_path / "m.npz")
    with pytest.raises(StateDictError) as info:
        model(hidden=5).load_state_dict(load(path))
    message = str(info.value)
    assert "0.weight: checkpoint (3, 4), model (5, 4)" in message
    assert "0.bias: checkpoint (3,), model (5,)" in message
    assert "2.weight: checkpoint (2, 3), model (2, 5)" in message


# ---- atomic writes -----------------------------------------------------------------------

class DiskFull(OSError):
    pass


def failing_savez(file, **arrays):
    file.write(b"PK\x03\x04 half a zip")
    raise DiskFull("no space left on device")


@pytest.mark.parametrize("error", [DiskFull, KeyboardInterrupt])
def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, error):
    path = tmp_path / "model.npz"
    old = model(0)
    save(old, path, metadata={"epoch": 1})
    before = path.read_bytes()

    def fail(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise error("interrupted mid-write")

    monkeypatch.setattr(checkpoint_module.np, "savez", fail)
    with pytest.raises(error):
        save(model(1), path, metadata={"epoch": 2})
    assert path.read_bytes() == before
    assert leftovers(tmp_path, "model.npz") == []
    assert load(path).metadata == {"epoch": 1}


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_module.np, "savez", failing_savez)
    with pytest.raises(DiskFull):
        save(model(), tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_failed_rename_leaves_no_temporary(tmp_path, monkeypatch):
    def fail_replace(src, dst):
        raise PermissionError("rename refused")

    monkeypatch.setattr(checkpoint_module.os, "replace", fail_replace)
    with pytest.raises(PermissionError):
        save(model(), tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_save_overwrites_an_existing_checkpoint(tmp_path):
    path = tmp_path / "m.npz"
    save(model(0), path, metadata={"epoch": 1})
    save(model(0), path, metadata={"epoch": 2})
    assert load(path).metadata == {"epoch": 2}
    assert leftovers(tmp_path, "m.npz") == []


def test_bad_metadata_fails_before_writing(tmp_path):
    with pytest.raises(TypeError, match="metadata value of type object is not JSON"):
        save(model(), tmp_path / "m.npz", metadata={"x": object()})
    assert os.listdir(tmp_path) == []


def test_save_errors_are_named(tmp_path):
    with pytest.raises(ValueError, match="'__metadata__' is reserved"):
        save({"__metadata__": np.zeros(1)}, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="names must be strings, got 0"):
        save({0: np.zeros(1)}, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="expected a Module or a state dict"):
        save([np.zeros(1)], tmp_path / "m.npz")
    with pytest.raises(TypeError, match="holds Python objects"):
        save({"w": np.array([object()])}, tmp_path / "m.npz")
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist"):
        save(model(), tmp_path / "missing" / "m.npz")
    assert os.listdir(tmp_path) == []


# ---- load errors -------------------------------------------------------------------------

def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="load: no checkpoint file at .*nope.npz"):
        load(tmp_path / "nope.npz")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04trunc"])
def test_load_corrupt_file(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="is not a readable checkpoint"):
        load(path)


def test_load_truncated_checkpoint(tmp_path):
    path = save(model(), tmp_path / "m.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="is not a readable checkpoint"):
        load(path)


def test_load_refuses_pickled_content(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, w=np.array([{"code": "runs on load"}], dtype=object))
    with pytest.raises(CheckpointError, match="is not a readable checkpoint"):
        load(path)


def test_load_refuses_a_single_npy_array(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(CheckpointError, match="single .npy array"):
        load(path)


def test_load_rejects_unreadable_metadata(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, w=np.zeros(2), __metadata__=np.array("{not json"))
    with pytest.raises(CheckpointError, match="unreadable metadata"):
        load(path)
