"""Checkpoints: a state dict (and optional metadata) in one `.npz` file, written atomically.

The file is a plain numpy archive: one array per parameter name, plus the metadata as a
JSON string in a 0-d unicode array under the reserved key `__metadata__`. An optimiser's
state, when given, is stored beside them: its per-parameter arrays as
`__optimizer__.state.<index>.<name>` and its hyper-parameters as JSON under `__optimizer__`.
It loads with `allow_pickle=False`, so opening a checkpoint never runs code. Checkpoints
written before optimiser state existed load as before (with no optimiser state).

`save` writes a temporary file in the same folder and renames it over the target with
`os.replace` (`tinygrad_edu.atomic.atomic_write`), so the target is always either the old
complete file or the new complete file: an error halfway leaves the old file untouched and
no temporary behind, and a Ctrl-C during a save is raised once the new file is in place.
A save that is killed outright (SIGKILL, power loss) cannot clean up: its temporary,
`.<name>.<pid>.<random>.tmp`, is removed by the next save of the same file once its writer
has exited (and it is a minute old), or once it is an hour old whoever wrote it.

A path that is a symlink is followed: the file it points to is replaced, the link stays.
A path that exists but is not a regular file (a folder, a device, a named pipe) is refused.
On load, each array's header is checked against the bytes the file holds before anything
is allocated, so a corrupt header is a CheckpointError, not a huge allocation.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import TinygradEduError
from ..tensor import Tensor
from .modules import Module

METADATA_KEY = "__metadata__"
OPTIMIZER_KEY = "__optimizer__"   # its JSON; the arrays under "__optimizer__.state.<i>.<name>"

# When the next save removes a temporary left by a killed one (seconds since it was written)
STALE_IF_WRITER_EXITED = 60.0
STALE_ANYWAY = 3600.0


class CheckpointError(TinygradEduError, ValueError):
    """A file is not a readable checkpoint (truncated, not an .npz, pickled content, a
    header that claims more data than the file holds), or a path that is not a regular
    file (a device, a named pipe) was given to save or load."""


class Checkpoint(dict):
    """A loaded checkpoint: the state dict (name -> numpy array) with `.metadata` beside it,
    and `.optimizer`: the optimiser's state dict if one was saved, else None.

    It is a plain dict of arrays, so `model.load_state_dict(load(path))` works as is, and
    `optimizer.load_state_dict(checkpoint.optimizer)` restores the optimiser.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], metadata: dict | None = None,
                 optimizer: dict | None = None):
        super().__init__(arrays)
        self.metadata: dict = metadata if metadata is not None else {}
        self.optimizer: dict | None = optimizer

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name!r}: {value.shape}" for name, value in self.items())
        extra = ""
        if self.optimizer is not None:
            count = len(self.optimizer["param_groups"][0].get("params", []))
            extra = f", optimizer=<state of {count} parameters>"
        return f"Checkpoint({{{shapes}}}, metadata={self.metadata!r}{extra})"


def _json_default(value):
    """numpy numbers and arrays in metadata become Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"save: metadata value of type {type(value).__name__} is not JSON "
                    "serialisable; store numbers, strings, lists and dicts")


def _arrays_of(obj) -> dict[str, np.ndarray]:
    if isinstance(obj, Module):
        return obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(f"save: expected a Module or a state dict (name -> array), got "
                        f"{type(obj).__name__}")
    arrays = {}
    for name, value in obj.items():
        if not isinstance(name, str):
            raise TypeError(f"save: state dict names must be strings, got {name!r}")
        if name == METADATA_KEY:
            raise ValueError(f"save: the name {METADATA_KEY!r} is reserved for the metadata; "
                             "pass metadata=... instead")
        if name.startswith(OPTIMIZER_KEY):
            raise ValueError(f"save: names starting {OPTIMIZER_KEY!r} are reserved for an "
                             "optimiser's state; pass optimizer=... instead")
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype.hasobject:
            raise TypeError(f"save: {name!r} holds Python objects (dtype object); a checkpoint "
                            "stores numeric arrays only")
        arrays[name] = array
    return arrays


def _optimizer_arrays(optimizer) -> dict[str, np.ndarray]:
    """An optimiser (or its state dict) as arrays: its JSON and each state array."""
    state = optimizer.state_dict() if hasattr(optimizer, "state_dict") else optimizer
    if not (isinstance(state, Mapping) and isinstance(state.get("state"), Mapping)
            and isinstance(state.get("param_groups"), (list, tuple))):
        raise TypeError(f"save: optimizer must be an optimiser (SGD, Adam) or the dict its "
                        f"state_dict() returns, got {type(optimizer).__name__}")
    arrays = {OPTIMIZER_KEY: np.array(json.dumps({"param_groups": list(state["param_groups"])},
                                                 default=_json_default))}
    for index, entry in state["state"].items():
        if not (isinstance(index, (int, np.integer)) and isinstance(entry, Mapping)):
            raise TypeError(f"save: the optimiser state must map parameter indices to dicts, "
                            f"got {index!r}: {type(entry).__name__}")
        for name, value in entry.items():
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if not isinstance(name, str) or "." in name or array.dtype.kind not in "biuf":
                raise TypeError(f"save: optimiser state {index}.{name} must be a numeric "
                                f"array under a name without dots, got {array.dtype}")
            arrays[f"{OPTIMIZER_KEY}.state.{int(index)}.{name}"] = array
    return arrays


def _split_optimizer(arrays: dict[str, np.ndarray], path: Path) -> dict | None:
    """Take the optimiser's entries out of a loaded archive; its state dict, or None."""
    if OPTIMIZER_KEY not in arrays:
        return None
    try:
        saved = json.loads(str(arrays.pop(OPTIMIZER_KEY)[()]))
        groups = saved["param_groups"]
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise CheckpointError(f"load: {str(path)!r} has unreadable optimiser state: "
                              f"{exc}") from exc
    state: dict[int, dict] = {}
    prefix = f"{OPTIMIZER_KEY}.state."
    for key in [k for k in arrays if k.startswith(prefix)]:
        index, _, name = key[len(prefix):].partition(".")
        if not (index.isdigit() and name):
            raise CheckpointError(f"load: {str(path)!r} has an optimiser entry {key!r} that "
                                  f"is not {prefix}<index>.<name>")
        state.setdefault(int(index), {})[name] = arrays.pop(key)
    return {"state": dict(sorted(state.items())), "param_groups": groups}


def save(obj: Module | Mapping[str, Any], path: str | os.PathLike,
         metadata: Mapping[str, Any] | None = None, *, optimizer=None) -> Path:
    """Write a module's state dict (or a state dict), metadata and optionally an optimiser's
    state to `path`, atomically.

    Parameters
    ----------
    obj : Module or mapping of name -> array or Tensor
        What to save; a Module saves its `state_dict()`.
    path : str or PathLike
        The file to write, used exactly as given (no suffix is added; `.npz` is customary).
    metadata : mapping, optional
        JSON-serialisable information to keep beside the arrays (epoch, accuracy, config);
        numpy numbers are converted.
    optimizer : Optimizer or its state dict, optional
        Saved too, so training can resume: `load(path).optimizer` gives it back for
        `optimizer.load_state_dict`. Its arrays are stored as arrays, never pickled.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    TypeError, ValueError
        For an unsupported object, a non-string name, the reserved name, or metadata that is
        not JSON-serialisable; raised before anything is written.
    IsADirectoryError, CheckpointError
        `path` (or the file a symlink there leads to) is a folder, or exists and is not a
        regular file (a device, a named pipe); nothing is written.
    OSError
        The file cannot be written (permissions, disk full); the old file is kept.

    Notes
    -----
    A symlink at `path` is followed: its target is replaced and the link stays. A save
    that is killed outright leaves `.<name>.<pid>.<random>.tmp` beside the file; the next
    save of the same file removes it once its writer has exited (and it is a minute old),
    or once it is an hour old.

    Examples
    --------
    >>> import os, tempfile
    >>> from tinygrad_edu.nn import Linear
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> _ = save(Linear(2, 1, rng=0), path, metadata={"epoch": 3})
    >>> ckpt = load(path)
    >>> sorted(ckpt), ckpt.metadata
    (['bias', 'weight'], {'epoch': 3})

    With the optimiser, to resume training later:

    >>> from tinygrad_edu.optim import SGD
    >>> model = Linear(2, 1, rng=0)
    >>> optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> _ = save(model, path, optimizer=optimizer)
    >>> optimizer.load_state_dict(load(path).optimizer)
    """
    arrays = _arrays_of(obj)
    if optimizer is not None:
        arrays.update(_optimizer_arrays(optimizer))
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"save: metadata must be a dict, got {type(metadata).__name__}")
    text = json.dumps(dict(metadata or {}), default=_json_default)
    arrays[METADATA_KEY] = np.array(text)  # 0-d unicode array: no pickling needed
    path = Path(path)
    target = _save_target(path)
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"save: the folder {str(folder)!r} does not exist; create it "
                                "first (for example Path(folder).mkdir(parents=True))")
    _remove_stale_temporaries(folder, target.name)
    try:
        # the writer's pid in the name lets a later save tell a killed save's leftover
        with atomic_write(target, prefix=f".{target.name}.{os.getpid()}.") as f:
            np.savez(f, **arrays)
    except OSError as exc:
        if exc.errno is None:
            raise
        # name the checkpoint, not the hidden temporary the error was about
        raise OSError(exc.errno, f"save: cannot write {str(path)!r}: {exc.strerror}") from exc
    return path


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a named pipe (fifo)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


def _save_target(path: Path) -> Path:
    """The file to replace: `path`, or the file a symlink at `path` leads to; it must be a
    regular file or not exist yet."""
    target = Path(os.path.realpath(path))
    shown = repr(str(path)) if target == Path(os.path.abspath(path)) else (
        f"{str(path)!r} (a link to {str(target)!r})")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:  # a symlink loop, a folder we may not enter
        raise OSError(exc.errno, f"save: cannot use {shown}: {exc.strerror}") from exc
    if stat.S_ISREG(mode):
        return target
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"save: {shown} is a folder; give a file path, for example "
                                f"{str(path / 'model.npz')!r}")
    raise CheckpointError(f"save: {shown} is {_file_kind(mode)}, not a regular file; a "
                          "checkpoint is written only to a regular file or a new path")


def _writer_exited(pid: int) -> bool:
    """True when no process `pid` runs on this machine (False when that cannot be told)."""
    if os.name != "posix":  # no harmless signal 0 elsewhere: rely on the age alone
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return True
    except OSError:  # PermissionError: it runs, as another user
        return False
    return False


def _remove_stale_temporaries(folder: Path, name: str) -> None:
    """Delete temporaries that killed saves of `name` left in `folder` (best effort)."""
    # .<name>.<pid>.<8 random chars>.tmp, or .<name>.<8 random chars>.tmp (older versions)
    ours = re.compile(rf"\.{re.escape(name)}\.(?:(\d+)\.)?[a-z0-9_]{{8}}\.tmp")
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = ours.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        age = now - info.st_mtime
        exited = match[1] is not None and _writer_exited(int(match[1]))
        if stat.S_ISREG(info.st_mode) and (
                age > STALE_ANYWAY or (exited and age > STALE_IF_WRITER_EXITED)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def load(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by `save`: a dict name -> array, with `.metadata`.

    Parameters
    ----------
    path : str or PathLike
        The `.npz` file.

    Returns
    -------
    Checkpoint
        A dict of numpy arrays (pass it to `Module.load_state_dict`) whose `.metadata`
        holds the saved metadata ({} if none) and `.optimizer` the optimiser's state dict
        (None if none was saved).

    Raises
    ------
    FileNotFoundError
        No file at `path`.
    IsADirectoryError
        `path` is a folder.
    PermissionError
        The file may not be read.
    CheckpointError
        The file is not a readable checkpoint (truncated, corrupt, holding pickled data, or
        a header that claims more data than the file holds), or not a regular file.
    MemoryError
        An array is too big for the free memory; the message names it and its size.

    Examples
    --------
    >>> import os, tempfile
    >>> path = save({"w": np.arange(3.0)}, os.path.join(tempfile.mkdtemp(), "w.npz"))
    >>> load(path)
    Checkpoint({'w': (3,)}, metadata={})
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no checkpoint file at {str(path)!r}") from None
    except OSError as exc:  # a symlink loop, a folder we may not enter
        raise OSError(exc.errno, f"load: cannot read {str(path)!r}: {exc.strerror}") from exc
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"load: {str(path)!r} is a folder, not a checkpoint file; give "
                                "the path of the .npz file inside it")
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"load: {str(path)!r} is {_file_kind(mode)}, not a regular file")
    try:
        with open(path, "rb") as file:  # ours to close, even when numpy fails halfway
            arrays = _read_arrays(file, path)
    except CheckpointError:
        raise
    except PermissionError as exc:
        raise OSError(exc.errno, f"load: cannot read {str(path)!r}: permission denied "
                                 "(check the file's owner and mode)") from exc
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:  # the disk, not the content
            raise OSError(exc.errno, f"load: reading {str(path)!r} failed: "
                                     f"{exc.strerror}") from exc
        raise CheckpointError(
            f"load: {str(path)!r} is not a readable checkpoint ({type(exc).__name__}: {exc}); "
            "it may be truncated or not written by tinygrad_edu.save; save it again") from exc
    metadata: dict = {}
    if METADATA_KEY in arrays:
        raw = arrays.pop(METADATA_KEY)
        try:
            metadata = json.loads(str(raw[()]))
        except (ValueError, IndexError) as exc:
            raise CheckpointError(f"load: {str(path)!r} has unreadable metadata: {exc}") from exc
        if not isinstance(metadata, dict):
            raise CheckpointError(f"load: {str(path)!r} has metadata that is not a dict")
    optimizer = _split_optimizer(arrays, path)
    return Checkpoint(arrays, metadata, optimizer)


def _size(nbytes: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes} B" if unit == "B" else f"{nbytes:.3g} {unit}"
        nbytes /= 1000
    raise AssertionError("unreachable")


def _read_arrays(file, path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, each header checked against the bytes that hold its data."""
    if file.read(6) == b"\x93NUMPY":
        raise ValueError("it holds a single .npy array, not an .npz archive")
    file.seek(0)
    on_disk = os.fstat(file.fileno()).st_size
    arrays = {}
    with zipfile.ZipFile(file) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"its entry {info.filename!r} is not a .npy array")
            name = info.filename[:-4]
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise ValueError(f"entry {name!r} is in .npy format {version}, which "
                                     "tinygrad_edu does not read")
                header = member.tell()
            if dtype.hasobject:
                raise ValueError(f"entry {name!r} holds pickled Python objects (dtype "
                                 f"{dtype}); a checkpoint stores numeric arrays only")
            need = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            have = info.file_size
            stored = min(info.compress_size, on_disk)  # the bytes really in the file
            if info.compress_type == zipfile.ZIP_STORED:
                have = min(have, stored)
            elif info.compress_type == zipfile.ZIP_DEFLATED:  # deflate expands 1032x at most
                have = min(have, stored * 1032 + 1024)
            have = max(have - header, 0)
            if need > have:
                raise CheckpointError(
                    f"load: {str(path)!r}: entry {name!r} declares shape {shape} {dtype} "
                    f"({_size(need)}) but holds only {have} bytes; the file is corrupt or "
                    "was not written by tinygrad_edu.save; save it again")
            try:
                with archive.open(info) as member:
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
            except MemoryError as exc:
                raise MemoryError(f"load: {str(path)!r}: entry {name!r} of shape {shape} "
                                  f"{dtype} needs {_size(need)}, more than the free memory"
                                  ) from exc
    return arrays
