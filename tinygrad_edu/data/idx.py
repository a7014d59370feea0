"""Read and write the IDX format, the file format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the data
in C order, big-endian::

    0x00 0x00 <dtype code> <ndim>  |  dim_0 ... dim_{ndim-1} (uint32 each)  |  data

The files are often gzipped; the reader looks at the first two bytes (the gzip magic
``1f 8b``), not at the file name, to decide.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDXError", "read_idx", "write_idx", "IDX_DTYPES"]

# dtype code (third magic byte) -> big-endian numpy dtype, as in the IDX spec
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """An IDX file is truncated, corrupt, or not an IDX file at all.

    The message names the file, what was expected and found, and what to do about it.
    """


def _fix(path: Path) -> str:
    return f"delete {path} and download it again (or copy an intact copy in its place)"


def _decompress(path: Path, raw: bytes) -> bytes:
    try:
        return gzip.decompress(raw)
    except EOFError as e:
        raise IDXError(
            f"{path}: the gzip stream ends early ({len(raw)} compressed bytes on disk): "
            f"the file is truncated, probably an interrupted download; {_fix(path)}"
        ) from e
    except (OSError, zlib.error) as e:
        raise IDXError(f"{path}: corrupt gzip data ({e}); {_fix(path)}") from e


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into a numpy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip is detected from the content (magic bytes ``1f 8b``), so a
        gzipped file without a ``.gz`` suffix, or a raw one with it, both load.

    Returns
    -------
    numpy.ndarray
        A new, writable array with the file's shape and dtype, in native byte order
        (``uint8`` for MNIST images and labels).

    Raises
    ------
    IDXError
        If the magic number is wrong, the dtype code unknown, the header short, or the
        data is not exactly ``prod(dims) * itemsize`` bytes long (a truncated file).
        The message names the path, the expected and actual sizes, and the fix.
    FileNotFoundError
        If the file does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_idx(folder / "x-idx2-ubyte.gz", np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(folder / "x-idx2-ubyte.gz")
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    path = Path(path)
    raw = path.read_bytes()
    gzipped = raw[:2] == _GZIP_MAGIC
    data = _decompress(path, raw) if gzipped else raw
    what = "decompressed size" if gzipped else "file size"

    if len(data) < 4:
        raise IDXError(
            f"{path}: {len(data)} bytes ({what}) is too short for the 4-byte IDX magic "
            f"number; the file is empty or truncated; {_fix(path)}"
        )
    zero0, zero1, code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0 or code not in IDX_DTYPES:
        raise IDXError(
            f"{path}: not an IDX file: magic bytes {data[:4].hex(' ')}, expected "
            f"00 00 <dtype code: one of {', '.join(f'{c:02x}' for c in IDX_DTYPES)}> "
            f"<ndim>; check that this is the right file, or {_fix(path)}"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IDXError(
            f"{path}: the header declares {ndim} dimensions, so it needs {header_size} "
            f"bytes, but the {what} is {len(data)} bytes; the file is truncated; {_fix(path)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "longer than its header says"
        raise IDXError(
            f"{path}: shape {shape} of {dtype.newbyteorder('=').name} needs {expected} bytes "
            f"({what}), found {len(data)}: the file is {kind}; {_fix(path)}"
        )
    out = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return out.astype(dtype.newbyteorder("="))  # a native-order copy we own


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` in IDX format, atomically.

    The bytes go to a temporary file in the same folder, which then replaces ``path`` in
    one step (``os.replace``), so a reader never sees a half-written file. A path ending
    in ``.gz`` is gzipped with a zero timestamp, so equal arrays give equal bytes.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    array : numpy.ndarray
        At least 1-d, of dtype uint8, int8, int16, int32, float32 or float64.

    Raises
    ------
    TypeError
        If the dtype has no IDX code (e.g. int64: cast it, ``array.astype(np.int32)``).
    ValueError
        If the array is 0-d or a dimension does not fit in a uint32.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
    >>> write_idx(path, np.array([5, 0, 4], dtype=np.uint8))
    >>> path.read_bytes()
    b'\\x00\\x00\\x08\\x01\\x00\\x00\\x00\\x03\\x05\\x00\\x04'
    """
    path = Path(path)
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        names = ", ".join(d.newbyteorder("=").name for d in IDX_DTYPES.values())
        raise TypeError(
            f"write_idx: dtype {array.dtype} has no IDX code; IDX stores {names}; "
            f"cast first, e.g. array.astype(np.int32)"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: IDX needs 1 to 255 dimensions, got shape {array.shape}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"write_idx: shape {array.shape} has a dimension >= 2**32")

    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    _atomic_write(path, payload)


def _atomic_write(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0o600; a data file is world-readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
