"""Read and write the IDX format, the file format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the data
in C order, big-endian::

    0x00 0x00 <dtype code> <ndim>  |  dim_0 ... dim_{ndim-1} (uint32 each)  |  data

The files are often gzipped; the reader looks at the first two bytes (the gzip magic
``1f 8b``), not at the file name, to decide.
"""

from __future__ import annotations

import gzip
import math
import os
import sys
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_write

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
_CHUNK = 1 << 24  # bytes read at a time: the most a lying header makes us hold beyond the data


class IDXError(ValueError):
    """An IDX file is truncated, corrupt, or not an IDX file at all.

    The message names the file, what was expected and found, and what to do about it.
    """


def _fix(path: Path) -> str:
    return f"delete {path} and download it again (or copy an intact copy in its place)"


def _read_exactly(path: Path, f, n: int) -> bytes | bytearray:
    """Up to n bytes from the file or gzip stream f (fewer only at its end); several chunks
    are joined into a bytearray, a fresh buffer the array can keep."""
    parts, size = [], 0
    try:
        while size < n:
            chunk = f.read(min(_CHUNK, n - size))  # bounded: a lying header allocates nothing
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
    except EOFError as e:
        raise IDXError(
            f"{path}: the gzip stream ends early ({path.stat().st_size} compressed bytes on "
            f"disk): the file is truncated, probably an interrupted download; {_fix(path)}"
        ) from e
    except (gzip.BadGzipFile, zlib.error) as e:
        raise IDXError(f"{path}: corrupt gzip data ({e}); {_fix(path)}") from e
    return parts[0] if len(parts) == 1 else bytearray().join(parts)


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(shape) if len(shape) <= 6 else f"({', '.join(map(str, shape[:6]))}, ...)"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into a numpy array.

    The data is read, or decompressed, only as far as the header says it goes: a file
    whose gzip stream expands far beyond its header is reported once it passes that size,
    without being decompressed.

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
        If the magic number is wrong, the dtype code unknown, the header short, its
        dimensions multiply to more bytes than an array can hold, or the data is not
        exactly ``prod(dims) * itemsize`` bytes long (a truncated file, or one longer than
        its header says). The message names the path, the expected and actual sizes, and
        the fix.
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
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if gzipped:
            with gzip.GzipFile(fileobj=raw) as f:
                return _read_stream(path, f, "decompressed size", None)
        return _read_stream(path, raw, "file size", os.fstat(raw.fileno()).st_size)


def _read_stream(path: Path, f, what: str, file_size: int | None) -> np.ndarray:
    """The array in f, read no further than one byte past what its header promises."""
    magic = _read_exactly(path, f, 4)
    if len(magic) < 4:
        raise IDXError(
            f"{path}: {len(magic)} bytes ({what}) is too short for the 4-byte IDX magic "
            f"number; the file is empty or truncated; {_fix(path)}"
        )
    zero0, zero1, code, ndim = magic
    if zero0 != 0 or zero1 != 0 or code not in IDX_DTYPES:
        raise IDXError(
            f"{path}: not an IDX file: magic bytes {magic.hex(' ')}, expected "
            f"00 00 <dtype code: one of {', '.join(f'{c:02x}' for c in IDX_DTYPES)}> "
            f"<ndim>; check that this is the right file, or {_fix(path)}"
        )
    header_size = 4 + 4 * ndim
    dims = _read_exactly(path, f, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise IDXError(
            f"{path}: the header declares {ndim} dimensions, so it needs {header_size} "
            f"bytes, but the {what} is {4 + len(dims)} bytes; the file is truncated; "
            f"{_fix(path)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    name = dtype.newbyteorder("=").name
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no int64 wrap-around
    if nbytes > sys.maxsize:
        raise IDXError(
            f"{path}: the header's dimensions {_shape_text(shape)} multiply to {nbytes} bytes "
            f"of {name}, more than any array can hold: the header is corrupt; {_fix(path)}"
        )
    expected = header_size + nbytes
    if file_size is not None:  # a raw file's size is known before reading it
        _check_size(path, shape, name, expected, file_size, what)
        payload = bytearray(nbytes)
        _check_size(path, shape, name, expected, header_size + f.readinto(payload), what)
    else:  # a gzip stream is read one byte past the promise (its end also checks the CRC)
        payload = _read_exactly(path, f, nbytes + 1)
        _check_size(path, shape, name, expected, header_size + len(payload), what,
                    longer_known=False)
    out = np.frombuffer(payload, dtype=dtype).reshape(shape)
    native = dtype.newbyteorder("=")
    if out.dtype == native and out.flags.writeable:
        return out  # the bytearray read above: already a native-order array we own
    return out.astype(native)  # a native-order copy we own


def _check_size(path: Path, shape: tuple[int, ...], name: str, expected: int, found: int,
                what: str, longer_known: bool = True) -> None:
    if found != expected:
        kind = "truncated" if found < expected else "longer than its header says"
        shown = found if found < expected or longer_known else "more"
        raise IDXError(
            f"{path}: shape {_shape_text(shape)} of {name} needs {expected} bytes ({what}), "
            f"found {shown}: the file is {kind}; {_fix(path)}"
        )


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
    with atomic_write(path, permissions=0o644) as f:  # a data file is world-readable
        f.write(payload)


