"""Checkpoints: a state dict (and optional metadata) in one `.npz` file, written atomically.

The file is a plain numpy archive: one array per parameter name, plus the metadata as a
JSON string in a 0-d unicode array under the reserved key `__metadata__`. It loads with
`allow_pickle=False`, so opening a checkpoint never runs code.

`save` writes a temporary file in the same folder and renames it over the target with
`os.replace`, so the target is always either the old complete file or the new complete
file: an error (or Ctrl-C) halfway leaves the old file untouched and no temporary behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TinygradEduError
from ..tensor import Tensor
from .modules import Module

METADATA_KEY = "__metadata__"


class CheckpointError(TinygradEduError, ValueError):
    """A file is not a readable checkpoint (truncated, not an .npz, pickled content)."""


class Checkpoint(dict):
    """A loaded checkpoint: the state dict (name -> numpy array) with `.metadata` beside it.

    It is a plain dict of arrays, so `model.load_state_dict(load(path))` works as is.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], metadata: dict | None = None):
        super().__init__(arrays)
        self.metadata: dict = metadata if metadata is not None else {}

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name!r}: {value.shape}" for name, value in self.items())
        return f"Checkpoint({{{shapes}}}, metadata={self.metadata!r})"


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
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype.hasobject:
            raise TypeError(f"save: {name!r} holds Python objects (dtype object); a checkpoint "
                            "stores numeric arrays only")
        arrays[name] = array
    return arrays


def save(obj: Module | Mapping[str, Any], path: str | os.PathLike,
         metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a module's state dict (or a state dict) and metadata to `path`, atomically.

    Parameters
    ----------
    obj : Module or mapping of name -> array or Tensor
        What to save; a Module saves its `state_dict()`.
    path : str or PathLike
        The file to write, used exactly as given (no suffix is added; `.npz` is customary).
    metadata : mapping, optional
        JSON-serialisable information to keep beside the arrays (epoch, accuracy, config);
        numpy numbers are converted.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    TypeError, ValueError
        For an unsupported object, a non-string name, the reserved name, or metadata that is
        not JSON-serialisable; raised before anything is written.

    Examples
    --------
    >>> import os, tempfile
    >>> from tinygrad_edu.nn import Linear
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> _ = save(Linear(2, 1, rng=0), path, metadata={"epoch": 3})
    >>> ckpt = load(path)
    >>> sorted(ckpt), ckpt.metadata
    (['bias', 'weight'], {'epoch': 3})
    """
    arrays = _arrays_of(obj)
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"save: metadata must be a dict, got {type(metadata).__name__}")
    text = json.dumps(dict(metadata or {}), default=_json_default)
    arrays[METADATA_KEY] = np.array(text)  # 0-d unicode array: no pickling needed
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"save: the folder {str(folder)!r} does not exist; create it "
                                "first (for example Path(folder).mkdir(parents=True))")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the old file's mode, or rw-r--r--
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:  # also Ctrl-C: never leave a half-written temporary behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


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
        holds the saved metadata ({} if none).

    Raises
    ------
    FileNotFoundError
        No file at `path`.
    CheckpointError
        The file is not a readable checkpoint (truncated, corrupt, or holding pickled data).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no checkpoint file at {str(path)!r}")
    try:
        with open(path, "rb") as file:  # ours to close, even when numpy fails halfway
            archive = np.load(file, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single .npy array, not an .npz archive")
            with archive:
                arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
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
    return Checkpoint(arrays, metadata)
