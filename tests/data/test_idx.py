"""The IDX reader and writer: round trips, and a clear error for every kind of bad file."""

import gzip
import os
import re
import tracemalloc

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.data import IDXError, read_idx, write_idx
from tinygrad_edu.data.idx import IDX_DTYPES

IDX_NUMPY_DTYPES = [d.newbyteorder("=") for d in IDX_DTYPES.values()]


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file written by hand, independent of write_idx."""
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(IDX_DTYPES[code]).tobytes()


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_reads_hand_written_file(tmp_path, images, gz):
    payload = idx_bytes(images)
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(payload) if gz else payload)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (3, 28, 28)
    np.testing.assert_array_equal(out, images)


def test_read_idx_detects_gzip_by_content_not_suffix(tmp_path, images):
    (tmp_path / "gz-without-suffix").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "raw-with-suffix.gz").write_bytes(idx_bytes(images))
    np.testing.assert_array_equal(read_idx(tmp_path / "gz-without-suffix"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw-with-suffix.gz"), images)


def test_read_idx_big_endian_int32_gives_native_writable_array(tmp_path):
    values = np.array([[1, -2, 70000], [3, 2**31 - 1, -(2**31)]], dtype=np.int32)
    (tmp_path / "ints").write_bytes(idx_bytes(values, code=0x0C))
    out = read_idx(tmp_path / "ints")
    assert out.dtype == np.dtype(np.int32) and out.dtype.isnative
    assert out.flags.writeable
    np.testing.assert_array_equal(out, values)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), gz=st.booleans())
def test_write_then_read_round_trips(tmp_path_factory, data, gz):
    dtype = data.draw(st.sampled_from(IDX_NUMPY_DTYPES))
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    elements = {"allow_nan": False} if dtype.kind == "f" else None
    array = data.draw(hnp.arrays(dtype, shape, elements=elements))
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if gz else "a")
    write_idx(path, array)
    out = read_idx(path)
    assert out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)


def test_write_idx_writes_the_documented_bytes(tmp_path):
    write_idx(tmp_path / "l", np.array([5, 0, 4], dtype=np.uint8))
    assert (tmp_path / "l").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 4])


def test_write_idx_gz_suffix_gzips_reproducibly(tmp_path, images):
    write_idx(tmp_path / "a.gz", images)
    write_idx(tmp_path / "b.gz", images)
    first = (tmp_path / "a.gz").read_bytes()
    assert first[:2] == b"\x1f\x8b"
    assert first == (tmp_path / "b.gz").read_bytes()
    assert gzip.decompress(first) == idx_bytes(images)


def test_write_idx_replaces_existing_file_and_leaves_no_temp_file(tmp_path, images):
    path = tmp_path / "x"
    path.write_bytes(b"old")
    write_idx(path, images)
    np.testing.assert_array_equal(read_idx(path), images)
    assert os.listdir(tmp_path) == ["x"]


def test_write_idx_failure_keeps_old_file_and_removes_temp(tmp_path, images, monkeypatch):
    path = tmp_path / "x"
    path.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        write_idx(path, images)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["x"]


def test_write_idx_rejects_int64_naming_the_cast(tmp_path):
    with pytest.raises(TypeError, match=r"int64 has no IDX code.*astype\(np.int32\)"):
        write_idx(tmp_path / "x", np.arange(3))
    assert not (tmp_path / "x").exists()


def test_write_idx_rejects_scalar(tmp_path):
    with pytest.raises(ValueError, match=r"1 to 255 dimensions, got shape \(\)"):
        write_idx(tmp_path / "x", np.uint8(3))


# bad files: every error names the path, the sizes, and the fix


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data_names_path_expected_and_actual_sizes(tmp_path, images, gz):
    payload = idx_bytes(images)[:-100]
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    what = "decompressed size" if gz else "file size"
    expected = re.escape(f"needs {16 + 3 * 784} bytes ({what}), found {16 + 3 * 784 - 100}")
    with pytest.raises(IDXError, match=expected) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "truncated" in message
    assert f"delete {path}" in message and "download it again" in message


def test_truncated_gzip_stream_is_reported(tmp_path, images):
    path = tmp_path / "x.gz"
    compressed = gzip.compress(idx_bytes(images))
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(IDXError, match=r"gzip stream ends early.*truncated.*delete"):
        read_idx(path)


def test_corrupt_gzip_stream_is_reported(tmp_path, images):
    compressed = bytearray(gzip.compress(idx_bytes(images)))
    compressed[-6] ^= 0xFF  # inside the CRC-32 / length trailer
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(IDXError, match=rf"{re.escape(str(path))}: corrupt gzip data"):
        read_idx(path)


def test_extra_trailing_bytes_are_reported(tmp_path, images):
    (tmp_path / "x").write_bytes(idx_bytes(images) + b"\0\0")
    with pytest.raises(IDXError, match=r"found 2370: the file is longer than its header says"):
        read_idx(tmp_path / "x")


@pytest.mark.parametrize(
    "magic",
    [b"\x89PNG", b"\x00\x01\x08\x03", b"\x01\x00\x08\x03", b"\x00\x00\x07\x03"],
    ids=["png", "second-byte", "first-byte", "unknown-dtype"],
)
@pytest.mark.parametrize("gz", [False, True])
def test_wrong_magic_is_reported(tmp_path, images, magic, gz):
    payload = magic + idx_bytes(images)[4:]
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(IDXError, match=rf"not an IDX file: magic bytes {magic.hex(' ')}"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_header_shorter_than_its_dims_is_reported(tmp_path, gz):
    payload = bytes([0, 0, 8, 3]) + np.array([10, 28], ">u4").tobytes()  # 3 dims, 2 given
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(IDXError, match=r"declares 3 dimensions, so it needs 16 bytes.*is 12"):
        read_idx(path)


def test_wrong_dims_for_data_length_is_reported(tmp_path, images):
    payload = bytes([0, 0, 8, 3]) + np.array([3, 28, 29], ">u4").tobytes() + images.tobytes()
    (tmp_path / "x").write_bytes(payload)
    with pytest.raises(IDXError, match=r"shape \(3, 28, 29\) of uint8 needs 2452 bytes"):
        read_idx(tmp_path / "x")


@pytest.mark.parametrize("content", [b"", b"\x00\x00"])
def test_empty_or_tiny_file_is_reported(tmp_path, content):
    (tmp_path / "x").write_bytes(content)
    with pytest.raises(IDXError, match=rf"{len(content)} bytes \(file size\) is too short"):
        read_idx(tmp_path / "x")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


def test_idx_error_is_a_value_error():
    assert issubclass(IDXError, ValueError)


# a header that promises little and a gzip stream that expands to far more (item 12)


def gzip_bomb(header_shape: tuple[int, ...], megabytes: int) -> bytes:
    """A gzip file whose IDX header declares `header_shape` of uint8 but whose stream
    expands to about `megabytes` MB: one member with the header, then 1-MB members of zeros
    (gzip readers join the members), so the file stays a few kB."""
    header = bytes([0, 0, 8, len(header_shape)]) + np.array(header_shape, ">u4").tobytes()
    zeros = gzip.compress(bytes(1 << 20), mtime=0)
    return gzip.compress(header, mtime=0) + zeros * megabytes


def test_trust_12_gzip_expanding_past_its_header_stops_early(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_bomb((3, 28, 28), megabytes=64))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(IDXError) as info:
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert str(path) in message
    assert f"needs {16 + 3 * 784} bytes (decompressed size)" in message
    assert "longer than its header says" in message and "download it again" in message
    assert peak < 8 << 20  # stopped near the promised 2368 bytes, not after 64 MB


def test_trust_12_gzip_truncated_against_a_huge_header_is_an_idx_error(tmp_path):
    # the header promises 10^12 bytes; the stream holds 16 MB: reported, not allocated
    path = tmp_path / "x.gz"
    path.write_bytes(gzip_bomb((10**6, 1000, 1000), megabytes=16))
    with pytest.raises(IDXError, match=rf"{re.escape(str(path))}: shape \(1000000, 1000, 1000\) "
                                       rf"of uint8 needs {16 + 10**12} bytes \(decompressed "
                                       rf"size\), found {16 + 16 * 2**20}: the file is "
                                       rf"truncated"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_trust_12_exact_gzip_and_raw_payloads_still_load(tmp_path, images, gz):
    # the streaming reader reads exactly the promised bytes, then checks the stream's end
    payload = idx_bytes(images)
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(payload) + (gzip.compress(b"") if gz else b"")
                     if gz else payload)
    out = read_idx(path)
    assert out.flags.writeable and out.dtype.isnative
    np.testing.assert_array_equal(out, images)


def test_trust_12_extra_bytes_in_a_gzip_are_reported(tmp_path, images):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(images) + b"\0"))
    with pytest.raises(IDXError, match=r"needs 2368 bytes \(decompressed size\), found more: "
                                       r"the file is longer than its header says"):
        read_idx(path)


# headers whose dimensions multiply past anything an array can hold (item 15)


@pytest.mark.parametrize("shape", [(2**31, 2**31, 4), (2**32 - 1,) * 3, (2**32 - 1,) * 255],
                         ids=["wraps-int64-to-zero", "three-huge-dims", "255-huge-dims"])
@pytest.mark.parametrize("gz", [False, True])
def test_trust_15_header_dims_that_overflow_are_an_idx_error(tmp_path, shape, gz):
    # (2**31, 2**31, 4) multiplies to 2**64, which int64 arithmetic wraps to 0: with no data
    # after the header the old check passed and reshape failed with a bare ValueError
    payload = bytes([0, 0, 8, len(shape)]) + np.array(shape, ">u4").tobytes()
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(IDXError, match=rf"{re.escape(str(path))}: the header's dimensions "
                                       r"\(.*\) multiply to \d+ bytes of uint8, more than any "
                                       r"array can hold: the header is corrupt"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_trust_15_zero_length_dims_read_as_an_empty_array(tmp_path, gz):
    payload = bytes([0, 0, 8, 3]) + np.array([0, 28, 28], ">u4").tobytes()
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    out = read_idx(path)
    assert out.shape == (0, 28, 28) and out.dtype == np.uint8
