"""examples/mnist_mlp.py end to end, on the shipped MNIST sample, with tiny budgets.

Each test runs the script in a subprocess, as a user would, with `--sample` so it never
looks for or downloads the full dataset.
"""

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.nn import StateDictError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mnist_mlp.py"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}
QUICK = ["--sample", "--no-progress"]


def run(*args, cwd, timeout=120, check=True):
    proc = subprocess.run([sys.executable, str(EXAMPLE), *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n"
                             f"stderr:\n{proc.stderr}")
    return proc


def last_accuracy(stdout: str) -> float:
    last = stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"test accuracy: (0\.\d{4}|1\.0000)", last)
    assert match, f"last line is {last!r}"
    return float(match.group(1))


def without_times(metrics: dict) -> dict:
    """Everything but the wall-clock times and the output folder."""
    epochs = [{k: v for k, v in r.items() if k != "seconds"} for r in metrics["epochs"]]
    config = {k: v for k, v in metrics["config"].items() if k != "out"}
    return {**{k: v for k, v in metrics.items() if k != "seconds"}, "epochs": epochs,
            "config": config}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """One short run of the default preset, shared by the tests that read its outputs."""
    out = tmp_path_factory.mktemp("default")
    proc = run("--epochs", "2", "--limit", "2000", "--out", str(out), *QUICK, cwd=out)
    return out, proc


def test_default_run_prints_the_data_line_and_the_accuracy_last(default_run):
    out, proc = default_run
    lines = proc.stdout.strip().splitlines()
    data_lines = [line for line in lines if line.startswith("data:")]
    assert len(data_lines) == 1
    assert "shipped MNIST sample, 2000 train / 2000 held-out test" in data_lines[0]
    assert last_accuracy(proc.stdout) > 0.6                 # chance is 0.1


def test_default_run_writes_metrics(default_run):
    out, proc = default_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["preset"] == "default" and metrics["config"]["epochs"] == 2
    assert metrics["data"]["kind"] == "sample" and metrics["data"]["train_size"] == 2000
    assert [r["epoch"] for r in metrics["epochs"]] == [1, 2]
    for record in metrics["epochs"]:
        assert {"loss", "train_accuracy", "test_accuracy", "lr", "seconds"} <= set(record)
    assert metrics["epochs"][1]["loss"] < metrics["epochs"][0]["loss"]
    assert metrics["test_accuracy"] == last_accuracy(proc.stdout)
    assert metrics["interrupted"] is False


def test_default_run_saves_a_loadable_checkpoint(default_run):
    out, _ = default_run
    ckpt = tg.load(out / "model.npz")
    assert {name: a.shape for name, a in ckpt.items()} == {
        "0.weight": (256, 784), "0.bias": (256,), "2.weight": (128, 256), "2.bias": (128,),
        "4.weight": (10, 128), "4.bias": (10,)}
    assert ckpt.metadata["epoch"] == 2 and ckpt.metadata["config"]["hidden"] == [256, 128]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_default_run_draws_the_plots(default_run):
    pytest.importorskip("matplotlib")
    out, _ = default_run
    for name in ("loss.png", "accuracy.png", "confusion_matrix.png", "misclassified.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_load_evaluates_a_saved_checkpoint(default_run, tmp_path):
    out, proc = default_run
    loaded = run("--load", str(out / "model.npz"), *QUICK, cwd=tmp_path)
    assert last_accuracy(loaded.stdout) == last_accuracy(proc.stdout)


def test_load_into_other_sizes_lists_the_mismatch(default_run, tmp_path):
    out, _ = default_run
    proc = run("--load", str(out / "model.npz"), "--hidden", "64", *QUICK, cwd=tmp_path,
               check=False)
    assert proc.returncode == 1
    assert "0.weight: checkpoint (256, 784), model (64, 784)" in proc.stderr
    assert StateDictError.__name__ not in proc.stdout


def test_load_missing_checkpoint_is_a_clear_error(tmp_path):
    proc = run("--load", str(tmp_path / "none.npz"), *QUICK, cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "no checkpoint file at" in proc.stderr


def test_same_seed_gives_the_same_metrics(tmp_path):
    args = ["--epochs", "1", "--limit", "600", "--hidden", "32", "--no-plots", *QUICK]
    run(*args, "--out", str(tmp_path / "a"), cwd=tmp_path)
    run(*args, "--out", str(tmp_path / "b"), cwd=tmp_path)
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in "ab")
    assert without_times(a) == without_times(b)
    np.testing.assert_array_equal(tg.load(tmp_path / "a" / "model.npz")["0.weight"],
                                  tg.load(tmp_path / "b" / "model.npz")["0.weight"])


@pytest.mark.parametrize(("preset", "extra"), [
    ("zhang", ["--epochs", "3", "--limit", "500"]),
    ("fang", ["--epochs", "1", "--limit", "30", "--verify", "10"]),
    ("khan", ["--epochs", "3"]),
])
def test_verify_matches_the_documents_formulas(preset, extra, tmp_path):
    args = ["--preset", preset, "--no-plots", "--out", str(tmp_path), *QUICK, *extra]
    if "--verify" not in extra:
        args.append("--verify")
    proc = run(*args, cwd=tmp_path)
    diffs = [float(d) for d in re.findall(r"max \|hand-derived - \.backward\(\)\| = (\S+)",
                                          proc.stdout)]
    assert len(diffs) == 3, proc.stdout
    assert max(diffs) < 1e-5
    last_accuracy(proc.stdout)


def test_zhang_preset_uses_the_documents_network(tmp_path):
    proc = run("--preset", "zhang", "--epochs", "2", "--limit", "300", "--no-plots",
               "--out", str(tmp_path), *QUICK, cwd=tmp_path)
    assert "784-10-10 relu, cross-entropy, sgd lr 0.1" in proc.stdout
    assert sorted(tg.load(tmp_path / "model.npz")) == ["W1", "W2", "b1", "b2"]


def test_ctrl_c_keeps_the_last_finished_epoch(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--epochs", "1000000", "--limit", "500", "--hidden", "16",
         "--no-plots", "--out", str(out), *QUICK],
        cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = out / "model.npz"
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert checkpoint.exists(), "no checkpoint appeared"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted: the checkpoint of epoch" in stderr
    assert "Traceback" not in stderr
    metrics = json.loads((out / "metrics.json").read_text())
    ckpt = tg.load(checkpoint)
    assert metrics["interrupted"] is True
    assert 1 <= ckpt.metadata["epoch"] <= len(metrics["epochs"])
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.npz"]


def test_help_lists_every_flag(tmp_path):
    text = run("--help", cwd=tmp_path).stdout
    for flag in ["--preset", "--dataset", "--data-dir", "--epochs", "--batch-size", "--lr",
                 "--optimizer", "--hidden", "--activation", "--loss", "--seed", "--out",
                 "--no-progress", "--load", "--verify", "--limit", "--sample", "--no-download",
                 "--augment", "--schedule", "--weight-decay", "--momentum", "--init",
                 "--layout", "--log-every", "--no-plots", "--batches-per-epoch"]:
        assert flag in text, flag
    assert "zhang" in text and "fang" in text and "khan" in text


def test_bad_flags_are_reported(tmp_path):
    proc = run("--preset", "default", "--verify", *QUICK, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "use it with --preset zhang, fang or khan" in proc.stderr
    proc = run("--hidden", "12,x", *QUICK, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "expected sizes like 128,64" in proc.stderr


def test_data_dir_without_the_files_is_a_clear_error(tmp_path):
    proc = run("--data-dir", str(tmp_path), "--no-progress", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and f"--data-dir {tmp_path}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_data_dir_uses_exactly_the_files_there(tmp_path):
    from tinygrad_edu.data import mnist_sample, write_idx

    images, labels = mnist_sample("all")
    folder = tmp_path / "idx"
    folder.mkdir()
    for prefix, part in (("train", slice(0, 600)), ("t10k", slice(9000, 9300))):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images[part])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels[part].astype(np.uint8))
    proc = run("--data-dir", str(folder), "--epochs", "1", "--hidden", "32", "--no-plots",
               "--no-progress", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert f"data: MNIST from {folder}, 600 train / 300 test images" in proc.stdout
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["data"]["kind"] == "full" and metrics["data"]["where"] == str(folder)
    assert metrics["data"]["test_size"] == 300
    last_accuracy(proc.stdout)


# flags that used to do something else, or end in a traceback (items 9 and 15)


@pytest.fixture
def example(monkeypatch):
    """The script as a module, to call parse_args in-process (its import sets BLAS thread
    counts with setdefault: set them here first, so the test process keeps its own)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))
    spec = importlib.util.spec_from_file_location("mnist_mlp_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def parse_error(example, capsys, *argv) -> str:
    """argparse's clean exit (status 2, usage line, one error line): the error line."""
    with pytest.raises(SystemExit) as info:
        example.parse_args(list(argv))
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("usage: "), err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(("argv", "message"), [
    (["--augment", "100"], "--augment must be at most 4 pixels, got 100: MNIST's digits "
                           "fill the central 20x20 of the 28x28 image"),
    (["--augment", "5"], "--augment must be at most 4 pixels, got 5"),
    (["--batch-size", "0", "--batches-per-epoch", "3"],
     "--batches-per-epoch 3 draws minibatches of --batch-size samples, but --batch-size is 0 "
     "(the whole training set)"),
    (["--preset", "zhang", "--batches-per-epoch", "2"],
     "but --batch-size is 0 (the whole training set, preset zhang's value)"),
    (["--momentum", "0.9"], "--momentum is for --optimizer sgd; Adam"),
])
def test_trust_09_flags_that_would_do_something_else_are_argparse_errors(example, capsys,
                                                                         argv, message):
    assert message in parse_error(example, capsys, *argv)


@pytest.mark.parametrize(("argv", "message"), [
    (["--seed", "-1"], "--seed must be at least 0, got -1"),
    (["--lr", "-1"], "--lr must be a positive number, got -1.0"),
    (["--lr", "0"], "--lr must be a positive number, got 0.0"),
    (["--lr", "nan"], "--lr must be a positive number, got nan"),
    (["--lr", "inf"], "--lr must be a positive number, got inf"),
    (["--optimizer", "sgd", "--momentum", "-0.5"],
     "--momentum must be a number >= 0, got -0.5"),
    (["--weight-decay", "-1"], "--weight-decay must be a number >= 0, got -1.0"),
])
def test_trust_15_bad_numbers_are_argparse_errors(example, capsys, argv, message):
    assert message in parse_error(example, capsys, *argv)


def test_trust_15_out_naming_a_file_is_an_argparse_error(example, capsys, tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    for out in (afile, afile / "run"):
        line = parse_error(example, capsys, "--out", str(out))
        assert f"--out {out}: {afile} is a file, not a folder" in line
    assert afile.read_text() == "mine"


def test_trust_15_bad_flags_exit_cleanly_from_the_command_line(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    for argv in (["--seed", "-1"], ["--lr", "-1"], ["--out", str(afile)]):
        proc = run(*argv, *QUICK, cwd=tmp_path, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith("usage: ")


def test_trust_09_batches_per_epoch_is_what_each_epoch_does(tmp_path):
    # batch size = the whole (limited) set: 3 full-batch steps per epoch, as asked and
    # as recorded; before, the flag was ignored (1 step) but still written to metrics.json
    run("--limit", "50", "--batch-size", "50", "--batches-per-epoch", "3", "--epochs", "2",
        "--hidden", "8", "--augment", "0", "--no-plots", "--out", str(tmp_path), *QUICK,
        cwd=tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["batches_per_epoch"] == 3
    assert [r["steps"] for r in metrics["epochs"]] == [3, 3]


def test_trust_09_batches_per_epoch_larger_than_the_data_is_an_error(tmp_path):
    proc = run("--limit", "50", "--batch-size", "64", "--batches-per-epoch", "2",
               "--no-plots", "--out", str(tmp_path / "out"), *QUICK, cwd=tmp_path,
               check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert ("--batches-per-epoch 2 draws minibatches of --batch-size 64 samples, but there "
            "are only 50 training samples") in proc.stderr
    assert not (tmp_path / "out").exists()


def test_trust_09_augment_at_the_limit_still_trains(example):
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 4:24, 4:24] = 255                        # ink in the central 20x20 box
    shifted = example.shift_images(images, 4, np.random.default_rng(0))
    assert (shifted.reshape(3, -1).sum(1) == images.reshape(3, -1).sum(1)).all()


@pytest.mark.parametrize("empty", ["train", "t10k"])
def test_trust_15_zero_image_files_are_a_clear_error(tmp_path, empty):
    from tinygrad_edu.data import mnist_sample, write_idx

    images, labels = mnist_sample("test")
    folder = tmp_path / "idx"
    folder.mkdir()
    for prefix in ("train", "t10k"):
        n = 0 if prefix == empty else 20
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images[:n])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels[:n].astype(np.uint8))
    proc = run("--data-dir", str(folder), "--epochs", "1", "--hidden", "8", "--no-plots",
               "--no-progress", "--out", str(tmp_path / "out"), cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    split = "training" if empty == "train" else "test"
    assert (f"error: --data-dir {folder}: the MNIST {split} files hold no images"
            in proc.stderr)
