"""Files written whole or not at all: checkpoints, JSON metrics, IDX data files.

`atomic_write(path)` hands out a temporary file in `path`'s folder and, when the block ends
without an error, renames it over `path` in one step (`os.replace`): a reader sees the old
complete file or the new complete file, never half of one. On an error the temporary is
removed and `path` is untouched. Ctrl-C is held back while the temporary exists (the
interrupt is raised as soon as the file is in place), so it cannot land between creating
the temporary and removing it, where no cleanup could see it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "wb", prefix: str | None = None,
                 permissions: int | None = None) -> Iterator[IO]:
    """Write `path` through the file this yields (opened with `mode`), atomically.

    The temporary is `<prefix><random>.tmp` in `path`'s folder (prefix: `.<name>.`); it is
    flushed and synced to disk before the rename. The new file gets `permissions`, or else
    the old file's, or rw-r--r-- (mkstemp would leave it private).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_write(path, "w") as f:
    ...     _ = f.write("whole")
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('whole', ['notes.txt'])
    """
    path = Path(path)
    with _ctrl_c_held_back():
        fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", suffix=".tmp",
                                   dir=path.parent)
        try:
            with os.fdopen(fd, mode) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            if permissions is None:
                permissions = path.stat().st_mode & 0o777 if path.exists() else 0o644
            os.chmod(tmp, permissions)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def _ctrl_c_held_back() -> Iterator[None]:
    """Run the block with SIGINT's Python handler deferred: a Ctrl-C inside is handed to
    that handler (KeyboardInterrupt, by default) when the block ends. Only the main thread
    can swap handlers, and a handler that is not a Python callable (ignored, the OS
    default) is left alone: then the block runs as it is."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    received = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            previous(signal.SIGINT, received[0])
