"""tinygrad_edu.atomic: a file is written whole or not at all, Ctrl-C included."""

import os
import signal
import tempfile
import threading

import pytest

from tinygrad_edu import atomic
from tinygrad_edu.atomic import atomic_write


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_finished_block_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("old")
    os.chmod(path, 0o640)
    with atomic_write(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new" and names(tmp_path) == ["m.json"]
    assert path.stat().st_mode & 0o777 == 0o640          # the old file's permissions


def test_an_error_inside_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk"), atomic_write(path, "w") as f:
        f.write("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "old" and names(tmp_path) == ["m.json"]


def test_ctrl_c_inside_is_raised_after_the_file_is_complete(tmp_path):
    path = tmp_path / "m.json"
    with pytest.raises(KeyboardInterrupt), atomic_write(path, "w") as f:
        f.write("first half, ")
        os.kill(os.getpid(), signal.SIGINT)          # Ctrl-C while writing
        f.write("second half")
    assert path.read_text() == "first half, second half" and names(tmp_path) == ["m.json"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_just_after_the_temporary_is_made_leaves_no_temporary(tmp_path, monkeypatch):
    # the window that leaked `.metrics.json.XXXX` in the examples' Ctrl-C test: the signal
    # lands after mkstemp created the file but before its name reached any cleanup
    made = tempfile.mkstemp

    def mkstemp_then_ctrl_c(*args, **kwargs):
        result = made(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp_then_ctrl_c)
    path = tmp_path / "m.json"
    with pytest.raises(KeyboardInterrupt), atomic_write(path, "w") as f:
        f.write("whole")
    assert path.read_text() == "whole" and names(tmp_path) == ["m.json"]


def test_a_users_own_sigint_handler_runs_after_the_write(tmp_path):
    calls = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with atomic_write(tmp_path / "m.json", "w") as f:
            os.kill(os.getpid(), signal.SIGINT)
            assert calls == []                           # held back while writing
            f.write("whole")
        assert calls == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_it_writes_without_touching_signals(tmp_path):
    errors = []

    def write():
        try:
            with atomic_write(tmp_path / "m.json", "w") as f:
                f.write("whole")
        except Exception as exc:  # signal.signal would raise ValueError here
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    assert errors == [] and (tmp_path / "m.json").read_text() == "whole"
