"""Where the MNIST and Fashion-MNIST files are looked for, and which folder holds them.

Folders are searched in this order; the first that holds every needed file wins:

1. ``root``, if given;
2. ``$TINYGRAD_EDU_DATA``, then ``$TINYGRAD_EDU_DATA/<dataset>``;
3. the cache, ``~/.cache/tinygrad_edu/<dataset>`` (``$XDG_CACHE_HOME`` replaces ``~/.cache``);
4. the system folders in :data:`SYSTEM_DIRS`: ``/usr/share/datasets/fashion-mnist`` for
   Fashion-MNIST, where Debian's ``dataset-fashion-mnist`` package puts it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "FILES", "SYSTEM_DIRS", "cache_dir", "search_dirs", "find_dataset"]

ENV_VAR = "TINYGRAD_EDU_DATA"

# split -> (images file, labels file); each may be on disk as NAME.gz or NAME (or spelled
# with a dot, train-images.idx3-ubyte[.gz])
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "mnist": (),
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}

TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}  # canonical name -> title


def canonical_name(name: str) -> str:
    """``"Fashion_MNIST"`` -> ``"fashion-mnist"``; ValueError for an unknown dataset."""
    key = name.lower().replace("_", "-")
    if key not in TITLES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(TITLES)}")
    return key


def split_files(split: str | None) -> list[str]:
    """The file names (without .gz) of a split, or of both splits for None."""
    if split is None:
        return [f for pair in FILES.values() for f in pair]
    if split not in FILES:
        raise ValueError(f"unknown split {split!r}; choose one of {sorted(FILES)}")
    return list(FILES[split])


def cache_dir(name: str) -> Path:
    """The folder downloads go to: ``$XDG_CACHE_HOME`` (or ``~/.cache``)/tinygrad_edu/<name>.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.

    Returns
    -------
    pathlib.Path
        The folder; it is not created here.

    Examples
    --------
    >>> cache_dir("mnist").parts[-2:]
    ('tinygrad_edu', 'mnist')
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # the XDG spec says to ignore a relative path
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "tinygrad_edu" / canonical_name(name)


def search_dirs(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for a dataset's files, in the order they are searched.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    root : str or os.PathLike, optional
        A folder to search first.

    Returns
    -------
    list of pathlib.Path
        ``root``, ``$TINYGRAD_EDU_DATA``, ``$TINYGRAD_EDU_DATA/<name>``, the cache folder,
        then the system folders in :data:`SYSTEM_DIRS`; unset ones left out.

    Examples
    --------
    >>> search_dirs("fashion-mnist", root="data")[0]
    PosixPath('data')
    """
    name = canonical_name(name)
    dirs = [] if root is None else [Path(root)]
    env = os.environ.get(ENV_VAR, "")
    if env:
        dirs += [Path(env), Path(env) / name]
    dirs += [cache_dir(name), *SYSTEM_DIRS.get(name, ())]
    return list(dict.fromkeys(dirs))  # drop repeats, keep the order


def find_file(folder: Path, base: str) -> Path | None:
    """folder/base.gz or folder/base (or spelled with a dot), whichever exists first."""
    # also the spelling "train-images.idx3-ubyte" that some unpackers and copies use
    dotted = base.replace("-idx", ".idx")
    for candidate in (folder / f"{base}.gz", folder / base, folder / f"{dotted}.gz",
                      folder / dotted):
        if candidate.is_file():
            return candidate
    return None


def find_dataset(name: str, root: str | os.PathLike | None = None,
                 split: str | None = None) -> Path | None:
    """The first folder in the search order that holds the dataset's files, or None.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    root : str or os.PathLike, optional
        A folder to search first (see :func:`search_dirs`).
    split : {"train", "test"}, optional
        Only require that split's two files; by default all four are required.

    Returns
    -------
    pathlib.Path or None
        The folder the loaders would read from; None if the files must be downloaded.

    Examples
    --------
    >>> import tempfile
    >>> empty = tempfile.mkdtemp()
    >>> find_dataset("mnist", root=empty) == find_dataset("mnist")  # an empty root is skipped
    True
    """
    bases = split_files(split)
    for folder in search_dirs(name, root):
        if all(find_file(folder, base) for base in bases):
            return folder
    return None
