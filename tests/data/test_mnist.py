"""MNIST / Fashion-MNIST loaders: search order, local files, and downloads from a local server.

No test reaches the internet: every test runs with HOME, XDG_CACHE_HOME and the system
folders moved into tmp_path, and with mirrors pointing at 127.0.0.1.
"""

import copy
import errno
import gzip
import hashlib
import http.server
import importlib
import re
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu.data import (
    DatasetNotFoundError,
    DownloadError,
    IDXError,
    cache_dir,
    download,
    fashion_mnist,
    find_dataset,
    mnist,
    search_dirs,
    write_idx,
)

fetch = importlib.import_module("tinygrad_edu.data.fetch")
locate = importlib.import_module("tinygrad_edu.data.locate")
# the shipped defaults, copied before any test patches them
DEFAULT_MIRRORS = copy.deepcopy(fetch.MIRRORS)
DEFAULT_SHA256 = copy.deepcopy(fetch.SHA256)
DEFAULT_SYSTEM_DIRS = copy.deepcopy(locate.SYSTEM_DIRS)

TRAIN = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def make_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return images, rng.integers(0, 10, size=n, dtype=np.uint8)


def write_split(folder: Path, names, images, labels, gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{names[0]}{suffix}", images)
    write_idx(folder / f"{names[1]}{suffix}", labels)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Move every place the loader looks into tmp_path; make the real mirrors unreachable."""
    home, cache, system = tmp_path / "home", tmp_path / "xdg-cache", tmp_path / "system"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("TINYGRAD_EDU_DATA", raising=False)
    monkeypatch.setitem(locate.SYSTEM_DIRS, "mnist", ())
    monkeypatch.setitem(locate.SYSTEM_DIRS, "fashion-mnist", (system / "fashion-mnist",))
    for name in ("mnist", "fashion-mnist"):  # port 1 on loopback: refused at once
        monkeypatch.setitem(fetch.MIRRORS, name, ("http://127.0.0.1:1/",))
    return {"home": home, "cache": cache, "system": system}


# where the files are looked for


def test_search_dirs_order_is_root_env_env_subfolder_cache_system(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "env"))
    assert search_dirs("fashion-mnist", root=tmp_path / "root") == [
        tmp_path / "root",
        tmp_path / "env",
        tmp_path / "env" / "fashion-mnist",
        tmp_path / "xdg-cache" / "tinygrad_edu" / "fashion-mnist",
        tmp_path / "system" / "fashion-mnist",
    ]


def test_search_dirs_leaves_out_unset_root_and_env(tmp_path):
    assert search_dirs("mnist") == [tmp_path / "xdg-cache" / "tinygrad_edu" / "mnist"]


def test_cache_dir_uses_xdg_cache_home(tmp_path):
    assert cache_dir("mnist") == tmp_path / "xdg-cache" / "tinygrad_edu" / "mnist"


def test_cache_dir_falls_back_to_home_dot_cache(isolated, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir("fashion_mnist") == isolated["home"] / ".cache/tinygrad_edu/fashion-mnist"


def test_cache_dir_ignores_relative_xdg_cache_home(isolated, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache_dir("mnist") == isolated["home"] / ".cache" / "tinygrad_edu" / "mnist"


def test_root_is_used_before_env_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "env"))
    for i, folder in enumerate([tmp_path / "root", tmp_path / "env", cache_dir("mnist")]):
        write_split(folder, TRAIN, *make_split(3 + i, seed=i))
    images, labels = mnist("train", root=tmp_path / "root", download=False)
    np.testing.assert_array_equal(images, make_split(3, seed=0)[0])
    assert find_dataset("mnist", root=tmp_path / "root", split="train") == tmp_path / "root"


def test_env_var_folder_is_used_before_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "env"))
    write_split(tmp_path / "env", TRAIN, *make_split(4, seed=1))
    write_split(cache_dir("mnist"), TRAIN, *make_split(5, seed=2))
    images, _ = mnist("train", download=False)
    assert len(images) == 4


def test_env_var_dataset_subfolder_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "env"))
    write_split(tmp_path / "env" / "fashion-mnist", TEST, *make_split(6, seed=3))
    images, labels = fashion_mnist("test", download=False)
    assert images.shape == (6, 28, 28) and labels.shape == (6,)
    assert find_dataset("fashion-mnist", split="test") == tmp_path / "env" / "fashion-mnist"


def test_cache_folder_is_used(tmp_path):
    expected = make_split(7, seed=4)
    write_split(tmp_path / "xdg-cache" / "tinygrad_edu" / "mnist", TEST, *expected)
    images, labels = mnist("test", download=False)
    np.testing.assert_array_equal(images, expected[0])
    np.testing.assert_array_equal(labels, expected[1])


def test_cache_under_home_is_used_without_xdg(isolated, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    write_split(isolated["home"] / ".cache/tinygrad_edu/mnist", TEST, *make_split(2, seed=5))
    assert len(mnist("test", download=False)[0]) == 2


def test_system_folder_is_used_for_fashion_mnist_last(isolated):
    write_split(isolated["system"] / "fashion-mnist", TRAIN, *make_split(8, seed=6))
    assert len(fashion_mnist("train", download=False)[0]) == 8
    write_split(cache_dir("fashion-mnist"), TRAIN, *make_split(9, seed=7))
    assert len(fashion_mnist("train", download=False)[0]) == 9  # the cache comes first


def test_default_system_folder_is_debians():
    assert DEFAULT_SYSTEM_DIRS["fashion-mnist"] == (Path("/usr/share/datasets/fashion-mnist"),)


def test_unpacked_files_without_gz_are_found(tmp_path):
    expected = make_split(3, seed=8)
    write_split(tmp_path / "raw", TRAIN, *expected, gz=False)
    images, labels = mnist("train", root=tmp_path / "raw", download=False)
    np.testing.assert_array_equal(images, expected[0])
    np.testing.assert_array_equal(labels, expected[1])


def test_dotted_file_names_are_found(tmp_path):
    images, labels = make_split(2, seed=33)
    write_idx(tmp_path / "t10k-images.idx3-ubyte", images)
    write_idx(tmp_path / "t10k-labels.idx1-ubyte.gz", labels)
    np.testing.assert_array_equal(mnist("test", root=tmp_path, download=False)[0], images)


def test_loaders_return_uint8_images_and_int64_labels(tmp_path):
    write_split(tmp_path, TRAIN, *make_split(3, seed=9))
    images, labels = mnist(root=tmp_path, download=False)
    assert images.dtype == np.uint8 and labels.dtype == np.int64


def test_find_dataset_needs_both_files_of_the_split(tmp_path):
    write_split(tmp_path, TRAIN, *make_split(3, seed=10))
    (tmp_path / f"{TRAIN[1]}.gz").unlink()
    assert find_dataset("mnist", root=tmp_path, split="train") is None


def test_find_dataset_without_split_needs_all_four_files(tmp_path):
    write_split(tmp_path, TRAIN, *make_split(3, seed=11))
    assert find_dataset("mnist", root=tmp_path, split="train") == tmp_path
    assert find_dataset("mnist", root=tmp_path) is None
    write_split(tmp_path, TEST, *make_split(2, seed=12))
    assert find_dataset("mnist", root=tmp_path) == tmp_path


def test_not_found_without_download_lists_folders_and_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        mnist("test", root=tmp_path / "mine", download=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]" in message
    assert str(tmp_path / "mine") in message and str(cache_dir("mnist")) in message
    assert "download=True" in message
    assert isinstance(info.value, FileNotFoundError)


def test_unknown_dataset_and_split_are_rejected():
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'.*fashion-mnist"):
        find_dataset("cifar")
    with pytest.raises(ValueError, match=r"unknown split 'val'; choose one of \['test', 'train'\]"):
        mnist("val", download=False)


# files that are found but wrong


def test_truncated_local_file_says_delete_and_redownload(tmp_path):
    write_split(tmp_path, TRAIN, *make_split(3, seed=13), gz=False)
    path = tmp_path / TRAIN[0]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(IDXError, match=rf"{re.escape(str(path))}: .*truncated.*delete"):
        mnist("train", root=tmp_path, download=False)


def test_images_of_wrong_dims_are_rejected(tmp_path):
    images, labels = make_split(3, seed=14)
    write_idx(tmp_path / f"{TRAIN[0]}.gz", images.reshape(3, 784))
    write_idx(tmp_path / f"{TRAIN[1]}.gz", labels)
    with pytest.raises(IDXError, match=r"expected uint8 images of shape \(N, 28, 28\), got "
                                       r"uint8 \(3, 784\)"):
        mnist("train", root=tmp_path, download=False)


def test_labels_of_wrong_dims_are_rejected(tmp_path):
    images, labels = make_split(4, seed=15)
    write_idx(tmp_path / f"{TRAIN[0]}.gz", images)
    write_idx(tmp_path / f"{TRAIN[1]}.gz", labels.reshape(2, 2))
    with pytest.raises(IDXError, match=r"labels of shape \(N,\), got uint8 \(2, 2\)"):
        mnist("train", root=tmp_path, download=False)


def test_image_and_label_counts_must_match(tmp_path):
    write_idx(tmp_path / f"{TRAIN[0]}.gz", make_split(4, seed=16)[0])
    write_idx(tmp_path / f"{TRAIN[1]}.gz", make_split(3, seed=16)[1])
    with pytest.raises(IDXError, match=r"holds 4 images but .* holds 3 labels"):
        mnist("train", root=tmp_path, download=False)


def test_labels_out_of_range_are_rejected(tmp_path):
    write_idx(tmp_path / f"{TRAIN[0]}.gz", make_split(2, seed=17)[0])
    write_idx(tmp_path / f"{TRAIN[1]}.gz", np.array([3, 200], dtype=np.uint8))
    with pytest.raises(IDXError, match=r"label 200 is out of range 0..9"):
        mnist("train", root=tmp_path, download=False)


# downloads, from a server on 127.0.0.1


class Server:
    """A local HTTP server: routes map a path to a body, a status, or a lying length."""

    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                route = outer.routes.get(self.path, 404)
                if isinstance(route, int):
                    self.send_error(route)
                    return
                body, declared = route if isinstance(route, tuple) else (route, len(route))
                self.send_response(200)
                self.send_header("Content-Length", str(declared))
                self.end_headers()
                self.wfile.write(body)  # when declared > len(body), the client sees a cut

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def refused_url():
    """A loopback URL nothing listens on: bind a port, then free it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def gz_files(n: int, seed: int, names=TRAIN) -> dict[str, bytes]:
    """{file name: .gz bytes} for a random split, written by write_idx."""
    images, labels = make_split(n, seed)
    out = {}
    for name, array in zip(names, (images, labels), strict=True):
        header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
        out[f"{name}.gz"] = gzip.compress(header + array.tobytes(), mtime=0)
    return out


def sha_table(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}


def serve(server: Server, prefix: str, files: dict[str, object]) -> str:
    for name, body in files.items():
        server.routes[f"/{prefix}/{name}"] = body
    return f"{server.url}/{prefix}/"


def test_download_saves_verified_files_and_loads_them(server, isolated):
    files = gz_files(5, seed=20)
    mirror = serve(server, "m", files)
    images, labels = mnist("train", mirrors=[mirror], sha256=sha_table(files))
    expected_images, expected_labels = make_split(5, seed=20)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    folder = cache_dir("mnist")
    assert files_under(isolated["cache"]) == sorted(folder / name for name in files)
    assert (folder / f"{TRAIN[0]}.gz").read_bytes() == files[f"{TRAIN[0]}.gz"]


def test_second_load_reads_the_cache_without_requests(server):
    files = gz_files(3, seed=21)
    mirror = serve(server, "m", files)
    first = mnist("train", mirrors=[mirror], sha256=sha_table(files))
    count = len(server.requests)
    second = mnist("train", mirrors=[mirror], sha256=sha_table(files))
    assert len(server.requests) == count == 2
    np.testing.assert_array_equal(first[0], second[0])


def test_module_constants_are_the_default_mirrors_and_hashes(server, monkeypatch):
    files = gz_files(3, seed=22, names=TEST)
    monkeypatch.setitem(fetch.MIRRORS, "fashion-mnist", (serve(server, "f", files),))
    monkeypatch.setitem(fetch.SHA256, "fashion-mnist", sha_table(files))
    images, _ = fashion_mnist("test")
    assert len(images) == 3
    assert sorted(server.requests) == sorted(f"/f/{name}" for name in files)


def test_first_mirror_failing_then_second_succeeding(server, refused_url):
    files = gz_files(4, seed=23)
    down = f"{server.url}/missing/"  # answers 404 for everything
    good = serve(server, "good", files)
    images, _ = mnist("train", mirrors=[refused_url, down, good], sha256=sha_table(files))
    assert len(images) == 4
    assert server.requests == [f"/missing/{TRAIN[0]}.gz", f"/good/{TRAIN[0]}.gz",
                               f"/missing/{TRAIN[1]}.gz", f"/good/{TRAIN[1]}.gz"]


def test_wrong_checksum_raises_and_leaves_nothing(server, isolated):
    files = gz_files(3, seed=24)
    mirror = serve(server, "m", files)
    table = sha_table(files) | {f"{TRAIN[1]}.gz": "0" * 64}  # images fine, labels not
    with pytest.raises(DownloadError) as info:
        mnist("train", mirrors=[mirror], sha256=table)
    message = str(info.value)
    assert f"{mirror}{TRAIN[1]}.gz" in message
    assert f"SHA-256 mismatch: got {sha_table(files)[f'{TRAIN[1]}.gz']}, expected {'0' * 64}" \
        in message
    assert "Nothing was saved" in message
    assert not isolated["cache"].exists()  # not even the verified images file, nor a folder


def test_truncated_file_served_whole_fails_the_checksum(server, isolated):
    files = gz_files(3, seed=25)
    table = sha_table(files)
    cut = {name: body[: len(body) // 2] for name, body in files.items()}
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        mnist("train", mirrors=[serve(server, "m", cut)], sha256=table)
    assert files_under(isolated["cache"]) == []


def test_connection_cut_short_is_reported_as_truncated(server, isolated):
    files = gz_files(3, seed=26)
    short = {name: (body[:100], len(body)) for name, body in files.items()}
    size = len(files[f"{TRAIN[0]}.gz"])
    with pytest.raises(DownloadError, match=rf"truncated: the connection closed after 100 "
                                            rf"of {size} bytes"):
        mnist("train", mirrors=[serve(server, "m", short)], sha256=sha_table(files))
    assert files_under(isolated["cache"]) == []


def test_server_down_lists_the_mirror_and_where_to_put_files(refused_url, isolated):
    files = gz_files(2, seed=27)
    with pytest.raises(DownloadError) as info:
        mnist("train", mirrors=[refused_url], sha256=sha_table(files))
    message = str(info.value)
    host = refused_url.split("/")[2]
    assert f"{refused_url}{TRAIN[0]}.gz\n    -> connection refused: nothing answers at " \
           f"{host}\n" in message
    folder = cache_dir("mnist")
    assert f"put the files\n  {TRAIN[0]}.gz, {TRAIN[1]}.gz\n" in message
    assert f"in\n  {folder}\n" in message and "root=" in message
    assert "$TINYGRAD_EDU_DATA" in message
    assert info.value.folder == folder
    assert info.value.files == [f"{TRAIN[0]}.gz", f"{TRAIN[1]}.gz"]
    assert [url for url, _ in info.value.attempts] == [f"{refused_url}{TRAIN[0]}.gz"]
    assert not isolated["cache"].exists()


def test_every_failed_mirror_is_listed(server, refused_url):
    files = gz_files(2, seed=28)
    with pytest.raises(DownloadError) as info:
        mnist("train", mirrors=[refused_url, f"{server.url}/gone"], sha256=sha_table(files))
    reasons = [reason for _, reason in info.value.attempts]
    assert len(reasons) == 2
    assert reasons[0].startswith("connection refused: ")
    assert reasons[1] == "HTTP error 404 (Not Found)"
    assert f"{server.url}/gone/{TRAIN[0]}.gz" in str(info.value)


def test_download_fetches_only_missing_files(server):
    files = gz_files(3, seed=29)
    folder = cache_dir("mnist")
    folder.mkdir(parents=True)
    (folder / f"{TRAIN[0]}.gz").write_bytes(files[f"{TRAIN[0]}.gz"])
    mirror = serve(server, "m", files)
    assert download("mnist", "train", mirrors=[mirror], sha256=sha_table(files)) == folder
    assert server.requests == [f"/m/{TRAIN[1]}.gz"]


def test_existing_files_in_a_failed_download_are_kept(server):
    files = gz_files(3, seed=30)
    folder = cache_dir("mnist")
    folder.mkdir(parents=True)
    kept = folder / f"{TRAIN[0]}.gz"
    kept.write_bytes(files[kept.name])
    with pytest.raises(DownloadError):
        download("mnist", "train", mirrors=[f"{server.url}/none/"], sha256=sha_table(files))
    assert files_under(folder) == [kept]


def test_download_refuses_a_file_without_a_known_hash(server):
    files = gz_files(3, seed=31)
    table = {f"{TRAIN[0]}.gz": sha_table(files)[f"{TRAIN[0]}.gz"]}
    with pytest.raises(ValueError, match=rf"no known SHA-256 for mnist file {TRAIN[1]}.gz"):
        download("mnist", "train", mirrors=[serve(server, "m", files)], sha256=table)
    assert server.requests == []


def test_download_into_a_chosen_folder(server, tmp_path):
    files = gz_files(3, seed=32, names=TEST)
    target = tmp_path / "mine"
    download("mnist", "test", folder=target, mirrors=[serve(server, "m", files)],
             sha256=sha_table(files))
    assert sorted(p.name for p in target.iterdir()) == sorted(files)
    assert len(mnist("test", root=target, download=False)[0]) == 3


class Trickler:
    """A local HTTP server that promises `size` bytes and sends one byte per `interval`
    seconds: every socket read succeeds well within any timeout, the file never ends.

    Each response stops by itself: when the client hangs up, or after `limit` bytes."""

    def __init__(self, size: int = 10**6, interval: float = 0.01, limit: int = 3000) -> None:
        self.sent: list[int] = []  # bytes sent, per request
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                sent = 0
                try:
                    for _ in range(limit):  # bounded: limit * interval seconds at most
                        self.wfile.write(b"\0")
                        self.wfile.flush()
                        sent += 1
                        outer.stop.wait(interval)
                        if outer.stop.is_set():
                            break
                except OSError:  # the client gave up and closed the connection
                    pass
                outer.sent.append(sent)

            def log_message(self, *args):
                pass

        self.stop = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/slow/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.stop.is_set():
            return
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()  # joins the handler threads, which stop at once now
        self.thread.join()


@pytest.fixture
def trickler():
    t = Trickler()
    yield t
    t.close()


def test_trust_11_a_trickling_mirror_is_given_up_at_the_deadline(trickler, server, isolated):
    # each byte comes long before the 30 s read timeout; only a deadline on the whole
    # download stops it (3000 bytes at 0.01 s: without one this test would take 30 s and
    # then fail on the truncated file)
    files = gz_files(3, seed=33)
    good = serve(server, "good", files)
    folder = download("mnist", "train", mirrors=[trickler.url, good], sha256=sha_table(files),
                      deadline=0.3)
    assert len(mnist("train", root=folder, download=False)[0]) == 3  # the next mirror's
    trickler.close()  # waits for both responses to end
    assert len(trickler.sent) == 2                       # one request per file, given up


def test_trust_11_download_deadline_is_reported_and_nothing_is_kept(trickler, isolated):
    files = gz_files(3, seed=34)
    with pytest.raises(DownloadError) as info:
        download("mnist", "train", mirrors=[trickler.url], sha256=sha_table(files),
                 timeout=30.0, deadline=0.3)
    (url, reason), = info.value.attempts
    assert url == f"{trickler.url}{TRAIN[0]}.gz"
    assert re.fullmatch(r"timeout: no complete file within the deadline of 0\.3 s "
                        r"\(\d+ of 1000000 bytes received\); the mirror is too slow: "
                        r"pass a larger deadline= on a slow connection", reason), reason
    assert files_under(isolated["home"].parent) == []


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf")])
@pytest.mark.parametrize("name", ["timeout", "deadline"])
def test_trust_11_download_rejects_a_bad_timeout_or_deadline(name, value, isolated):
    with pytest.raises(ValueError, match=rf"download: {name} must be a positive number of "
                                         rf"seconds, got {value}"):
        download("mnist", "train", sha256={}, **{name: value})


def test_default_mirrors_and_hashes():
    mirrors, hashes = DEFAULT_MIRRORS, DEFAULT_SHA256
    assert mirrors["mnist"][0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert "http://yann.lecun.com/exdb/mnist/" in mirrors["mnist"]
    assert mirrors["fashion-mnist"][0].startswith("http://fashion-mnist.s3-website")
    for name in ("mnist", "fashion-mnist"):
        assert sorted(hashes[name]) == sorted(f"{n}.gz" for n in TRAIN + TEST)


# the real Fashion-MNIST from Debian's dataset-fashion-mnist, where it is installed

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
needs_debian = pytest.mark.skipif(not (DEBIAN / f"{TEST[1]}.gz").is_file(),
                                  reason="apt-get install dataset-fashion-mnist to run")


@needs_debian
def test_fashion_mnist_sha256_table_matches_debian_files():
    """Debian's .gz files hold upstream's deflate streams; its packaging only rewrote the
    gzip header (dropped the file name, changed the time). Restoring upstream's header
    must give exactly the files whose SHA-256 the table holds."""
    upstream_mtime = {"train-labels-idx1-ubyte": 1504176606, "t10k-labels-idx1-ubyte": 1504176627,
                      "t10k-images-idx3-ubyte": 1504176627}  # 2017-08-31, found by search
    table = DEFAULT_SHA256["fashion-mnist"]
    for name, mtime in upstream_mtime.items():
        body = (DEBIAN / f"{name}.gz").read_bytes()
        assert body[:4] == b"\x1f\x8b\x08\x00"  # no file name field
        header = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + body[8:10] + name.encode()
        upstream = header + b"\0" + body[10:]
        assert hashlib.sha256(upstream).hexdigest() == table[f"{name}.gz"]


@needs_debian
def test_fashion_mnist_loads_from_the_debian_folder(monkeypatch):
    monkeypatch.setitem(locate.SYSTEM_DIRS, "fashion-mnist", (DEBIAN,))
    assert find_dataset("fashion-mnist") == DEBIAN
    images, labels = fashion_mnist("test", download=False)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), [1000] * 10)


# issue 16, item 2: a failed download says why, one line per mirror


@pytest.fixture
def silent_url():
    """A loopback server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)                     # the kernel completes the handshakes; nobody replies
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/silent/"
    sock.close()


@pytest.fixture
def offline_url(monkeypatch):
    """A mirror whose host name cannot be resolved, as on a machine with no network."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "mirror.example":
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return "http://mirror.example/mnist/"


def test_first_02_each_failed_mirror_says_why_in_one_line(offline_url, refused_url, silent_url,
                                                          server, isolated, capsys):
    files = gz_files(3, seed=40)
    bad = serve(server, "bad", {name: body[::-1] for name, body in files.items()})
    mirrors = [offline_url, refused_url, silent_url, bad]
    with pytest.raises(DownloadError) as info:
        download("mnist", "train", mirrors=mirrors, sha256=sha_table(files), timeout=0.5)
    name = f"{TRAIN[0]}.gz"
    got = sha_table({name: files[name][::-1]})[name]
    reasons = [
        "no network: cannot resolve mirror.example (Temporary failure in name resolution)",
        f"connection refused: nothing answers at {refused_url.split('/')[2]}",
        f"timeout: {silent_url.split('/')[2]} sent nothing for 0.5 s",
        f"bad checksum: SHA-256 mismatch: got {got}, expected {sha_table(files)[name]} (the "
        "mirror served a different or damaged file)",
    ]
    expected = [line for mirror, why in zip(mirrors, reasons, strict=True)
                for line in (f"tinygrad_edu: downloading {mirror}{name}",
                             f"tinygrad_edu:   failed: {why}")]
    assert capsys.readouterr().err.splitlines() == expected
    assert [why for _, why in info.value.attempts] == reasons
    assert files_under(isolated["home"].parent) == []


@pytest.mark.parametrize(("exc", "reason"), [
    (OSError(errno.ENETUNREACH, "Network is unreachable"),
     "no network: mirror.example is unreachable (Network is unreachable)"),
    (fetch.urllib.error.URLError(OSError(errno.EHOSTUNREACH, "No route to host")),
     "no network: mirror.example is unreachable (No route to host)"),
    (fetch.urllib.error.URLError(TimeoutError("timed out")),
     "timeout: mirror.example sent nothing for 5 s"),
    (ConnectionError("truncated download: the connection closed after 1 of 9 bytes"),
     "truncated: the connection closed after 1 of 9 bytes"),
    (fetch.urllib.error.URLError("unknown url type: ftpx"), "URLError: unknown url type: ftpx"),
])
def test_first_02_failure_reasons_name_the_kind_of_failure(exc, reason):
    assert fetch.failure_reason("https://mirror.example/x.gz", exc, 5.0) == reason
