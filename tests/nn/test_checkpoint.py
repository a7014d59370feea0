"""Checkpoints: round trips, metadata, atomic writes, and the errors of load."""

import builtins
import errno
import io
import os
import re
import signal
import stat
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import tinygrad_edu
from tinygrad_edu import Tensor, atomic
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


# ---- issue 15, item 14: robust save and load -----------------------------------------------

def fake_checkpoint(path, shape, descr="<f8", payload=b"\0" * 16,
                    compression=zipfile.ZIP_STORED):
    """An .npz whose one entry's header claims `shape` but holds only `payload`."""
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        member, {"descr": descr, "fortran_order": False, "shape": shape})
    member.write(payload)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("w.npy", member.getvalue())
    return path


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("shape", [(10 ** 12,), (2 ** 40, 2 ** 40), (3, 10 ** 11)])
def test_trust_14_header_claiming_a_huge_array_is_a_clear_error(tmp_path, shape, compression):
    path = fake_checkpoint(tmp_path / "huge.npz", shape, compression=compression)
    with pytest.raises(CheckpointError, match=(
            rf"load: .*huge.npz.*: entry 'w' declares shape {re.escape(str(shape))} float64 "
            r"\(.*B\) but holds only 16 bytes")):
        load(path)


def test_trust_14_header_claiming_more_than_the_file_holds_is_a_clear_error(tmp_path):
    path = fake_checkpoint(tmp_path / "short.npz", (100,), payload=b"\0" * 80)
    with pytest.raises(CheckpointError, match=r"entry 'w' declares shape \(100,\) float64 "
                                              r"\(800 B\) but holds only 80 bytes"):
        load(path)


def test_trust_14_an_array_too_big_for_memory_is_named(tmp_path, monkeypatch):
    path = save({"w": np.zeros(4)}, tmp_path / "m.npz")

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(np.lib.format, "read_array", no_memory)
    with pytest.raises(MemoryError, match=r"load: .*m.npz.*: entry 'w' of shape \(4,\) float64 "
                                          r"needs 32 B"):
        load(path)


def test_trust_14_unreadable_checkpoint_is_reported_as_unreadable(tmp_path, monkeypatch):
    """As root chmod cannot make a file unreadable, so open() is made to refuse it."""
    path = save(model(), tmp_path / "m.npz")
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    with pytest.raises(PermissionError, match=r"load: cannot read .*m.npz.*: permission "
                                              r"denied") as info:
        load(path)
    assert "truncated" not in str(info.value)


def test_trust_14_load_refuses_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(CheckpointError, match=r"load: .*pipe' is a named pipe \(fifo\), not a "
                                              r"regular file"):
        load(tmp_path / "pipe")
    with pytest.raises(IsADirectoryError, match=r"load: .* is a folder, not a checkpoint file"):
        load(tmp_path)


def test_trust_14_save_to_a_folder_names_the_folder(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=(
            r"save: .*runs' is a folder; give a file path, for example .*runs/model.npz")) as info:
        save(model(), folder)
    assert ".tmp" not in str(info.value)
    assert leftovers(tmp_path, "runs") == [] and os.listdir(folder) == []


def test_trust_14_failed_write_names_the_checkpoint_not_the_temporary(tmp_path, monkeypatch):
    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, ".m.npz.x"))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=r"save: cannot write .*m.npz': Permission denied"):
        save(model(), tmp_path / "m.npz")


def test_trust_14_save_onto_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real.npz"
    save(model(0), target, metadata={"epoch": 1})
    link = tmp_path / "latest.npz"
    link.symlink_to("real.npz")                       # relative, as `ln -s` makes them
    save(model(1), link, metadata={"epoch": 2})
    assert link.is_symlink() and os.readlink(link) == "real.npz"
    assert load(target).metadata == {"epoch": 2}
    assert leftovers(tmp_path, "real.npz") == ["latest.npz"]


def test_trust_14_save_onto_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "latest.npz"
    link.symlink_to(tmp_path / "new.npz")
    save(model(), link)
    assert link.is_symlink() and (tmp_path / "new.npz").is_file()


def test_trust_14_save_refuses_a_fifo_and_a_link_to_a_device(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(CheckpointError, match=r"save: .*pipe' is a named pipe \(fifo\), not a "
                                              r"regular file"):
        save(model(), tmp_path / "pipe")
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    link = tmp_path / "null.npz"
    link.symlink_to(os.devnull)
    with pytest.raises(CheckpointError, match=r"save: .*null.npz' \(a link to '/dev/null'\) is "
                                              r"a character device, not a regular file"):
        save(model(), link)
    assert link.is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert leftovers(tmp_path, "pipe") == ["null.npz"]


def test_trust_14_save_refuses_a_symlink_loop(tmp_path):
    (tmp_path / "a.npz").symlink_to("b.npz")
    (tmp_path / "b.npz").symlink_to("a.npz")
    with pytest.raises(OSError, match=r"save: cannot use .*a.npz'"):
        save(model(), tmp_path / "a.npz")


def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def make_temporary(folder, name, age_seconds):
    path = folder / name
    path.write_bytes(b"PK\x03\x04 half a zip")
    when = time.time() - age_seconds
    os.utime(path, (when, when))
    return path


def test_trust_14_save_removes_stale_temporaries_of_killed_saves(tmp_path):
    dead, live = dead_pid(), os.getpid()
    stale = [make_temporary(tmp_path, f".m.npz.{dead}.abcd1234.tmp", 120),    # writer died
             make_temporary(tmp_path, f".m.npz.{live}.abcd1234.tmp", 7200),   # untouched 2 h
             make_temporary(tmp_path, ".m.npz.k2j_9x0q.tmp", 7200)]           # older naming
    kept = [make_temporary(tmp_path, f".m.npz.{live}.zzzz9999.tmp", 120),     # a live save
            make_temporary(tmp_path, f".m.npz.{dead}.zzzz9999.tmp", 5),       # just written
            make_temporary(tmp_path, f".other.npz.{dead}.abcd1234.tmp", 7200),  # other file's
            make_temporary(tmp_path, ".m.npz.notes.tmp", 7200)]               # not our naming
    save(model(), tmp_path / "m.npz")
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)
    assert load(tmp_path / "m.npz") is not None


def test_trust_14_a_save_killed_mid_way_is_cleaned_up_by_the_next(tmp_path):
    """A real kill: the child dies inside np.savez, leaving its temporary behind."""
    script = (
        "import os, signal, sys\n"
        "import numpy as np\n"
        "from tinygrad_edu.nn import checkpoint\n"
        "def die(file, **arrays):\n"
        "    file.write(b'PK half a zip'); file.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "checkpoint.np.savez = die\n"
        "checkpoint.save({'w': np.zeros(3)}, sys.argv[1])\n")
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path / "m.npz")],
                           check=False)
    assert child.returncode == -signal.SIGKILL
    (left,) = leftovers(tmp_path, "m.npz")
    assert left.startswith(".m.npz.") and left.endswith(".tmp")
    make_temporary(tmp_path, left, 120)               # a couple of minutes later
    save(model(), tmp_path / "m.npz")
    assert leftovers(tmp_path, "m.npz") == []


# ---- the optimiser's state beside the model (issue 16, item 5) -----------------------------

def train_step(net, opt) -> None:
    from tinygrad_edu.nn import functional as F

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 2, 8)
    opt.zero_grad()
    F.cross_entropy(net(Tensor(x)), y).backward()
    opt.step()


def test_first_05_save_and_load_carry_the_optimizer_state(tmp_path):
    from tinygrad_edu import function
    from tinygrad_edu.optim import Adam

    net = model()
    opt = Adam(net.parameters(), lr=0.05, weight_decay=1e-3)
    for _ in range(3):
        train_step(net, opt)
    path = save(net, tmp_path / "run.npz", metadata={"epoch": 3}, optimizer=opt)
    ckpt = load(path)
    assert sorted(ckpt) == sorted(net.state_dict())          # the model's arrays only
    assert ckpt.metadata == {"epoch": 3}
    assert ckpt.optimizer["param_groups"][0]["lr"] == 0.05
    assert int(ckpt.optimizer["state"][0]["step"]) == 3
    assert "optimizer=<state of 4 parameters>" in repr(ckpt)

    again = model(seed=7)
    again_opt = Adam(again.parameters())
    versions = [function.version(p.data) for p in again.parameters()]
    again_opt.load_state_dict(ckpt.optimizer)                # marks no parameter
    assert [function.version(p.data) for p in again.parameters()] == versions
    again.load_state_dict(ckpt)                              # the weights are a write
    assert all(function.version(p.data) > v
               for p, v in zip(again.parameters(), versions, strict=True))
    train_step(net, opt)                                     # both continue alike
    train_step(again, again_opt)
    for (name, a), b in zip(net.state_dict().items(), again.state_dict().values(),
                            strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_first_05_a_checkpoint_without_optimizer_state_still_loads(tmp_path):
    net = model()
    old = tmp_path / "old.npz"                 # as save wrote it before optimiser state
    np.savez(old, **net.state_dict(), __metadata__=np.array('{"epoch": 1}'))
    ckpt = load(old)
    assert ckpt.optimizer is None and ckpt.metadata == {"epoch": 1}
    model(seed=3).load_state_dict(ckpt)
    assert load(save(net, tmp_path / "new.npz")).optimizer is None


def test_first_05_save_refuses_what_is_not_an_optimizer_state(tmp_path):
    net = model()
    with pytest.raises(TypeError, match="optimizer must be an optimiser .* got list"):
        save(net, tmp_path / "a.npz", optimizer=[1, 2])
    with pytest.raises(ValueError, match="names starting '__optimizer__' are reserved"):
        save({"__optimizer__.state.0.x": np.zeros(2)}, tmp_path / "b.npz")
    assert list(tmp_path.iterdir()) == []
