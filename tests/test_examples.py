"""examples/mnist_mlp.py end to end, on the shipped MNIST sample, with tiny budgets.

Each test runs the script in a subprocess, as a user would, with `--sample` so it never
looks for or downloads the full dataset.
"""

import importlib.util
import json
import re
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_edu as tg
from tests.example_scripts import ENV, ROOT, import_script, last_accuracy, run_script
from tinygrad_edu import training
from tinygrad_edu.nn import StateDictError

EXAMPLE = ROOT / "examples" / "mnist_mlp.py"
QUICK = ["--sample", "--no-progress"]


def run(*args, cwd, timeout=120, check=True):
    return run_script(EXAMPLE, *args, cwd=cwd, timeout=timeout, check=check)


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
    assert data_lines[0] == ("data: the shipped MNIST sample, 2,000 train (--limit 2000 of "
                             "8,000) / 2,000 test (offline)")
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
    ckpt = tg.load(out / "model.npz")
    config = {**ckpt.metadata["config"], "hidden": [64]}     # a config that lies
    tg.save(dict(ckpt), tmp_path / "other.npz", metadata={"config": config})
    proc = run("--load", str(tmp_path / "other.npz"), *QUICK, cwd=tmp_path, check=False)
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
                 "--no-progress", "--load", "--verify", "--limit", "--sample", "--download",
                 "--resume",
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
    """The script as a module, to call parse_args in-process."""
    return import_script(EXAMPLE, monkeypatch)


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


def test_trust_09_augment_at_the_limit_still_trains():
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 4:24, 4:24] = 255                        # ink in the central 20x20 box
    shifted = training.shift_images(images, 4, np.random.default_rng(0))
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


# issue 16, item 2: the default run is offline, on the shipped sample


def test_first_02_default_run_uses_the_shipped_sample_and_no_network(example, monkeypatch,
                                                                     capsys, tmp_path):
    import socket

    touched = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: touched.append(a) or [])
    monkeypatch.setattr(socket.socket, "connect", lambda *a: touched.append(a))
    monkeypatch.setattr(example.datasets, "find_dataset", lambda *a, **k: touched.append(a))
    monkeypatch.setattr(example.datasets, "download", lambda *a, **k: touched.append(a))
    assert example.main(["--epochs", "1", "--limit", "300", "--hidden", "16", "--no-plots",
                         "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == ("data: the shipped MNIST sample, 300 train (--limit "
                                       "300 of 8,000) / 2,000 test (offline)")
    assert touched == [] and out.err == ""
    assert example.load_data(example.parse_args([])).description == (
        "data: the shipped MNIST sample, 8,000 train / 2,000 test (offline)")


@pytest.fixture
def no_full_data(tmp_path, monkeypatch):
    """No full dataset anywhere the script looks."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYGRAD_EDU_DATA", raising=False)
    locate = importlib.import_module("tinygrad_edu.data.locate")
    monkeypatch.setitem(locate.SYSTEM_DIRS, "fashion-mnist", ())
    return tmp_path


def test_first_02_full_mnist_is_read_only_when_asked_and_downloaded_only_with_download(
        example, no_full_data, capsys):
    with pytest.raises(SystemExit) as info:
        example.load_data(example.parse_args(["--dataset", "mnist"]))
    assert re.fullmatch(r"error: the full MNIST files are not on this machine \(looked in "
                        r".*\); add --download to fetch them, pass --data-dir DIR, or leave "
                        r"out --dataset to train on the shipped sample", str(info.value))
    assert capsys.readouterr().err == ""                  # nothing was tried


def test_first_02_a_failed_download_says_why_and_stops(example, no_full_data, monkeypatch,
                                                       capsys):
    import socket

    fetch = importlib.import_module("tinygrad_edu.data.fetch")
    with socket.socket() as sock:                         # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setitem(fetch.MIRRORS, "mnist", (f"http://127.0.0.1:{port}/",))
    with pytest.raises(SystemExit, match=r"error: could not download MNIST: every mirror "
                                         r"failed \(why is above\); put the files"):
        example.load_data(example.parse_args(["--dataset", "mnist", "--download"]))
    assert capsys.readouterr().err.splitlines() == [
        f"tinygrad_edu: downloading http://127.0.0.1:{port}/train-images-idx3-ubyte.gz",
        f"tinygrad_edu:   failed: connection refused: nothing answers at 127.0.0.1:{port}"]


def test_first_02_download_goes_with_a_full_dataset_only(example, capsys):
    assert "--download fetches a full dataset: add --dataset mnist" in parse_error(
        example, capsys, "--download")


# issue 16, item 5: --load, --resume, the lr per epoch, the files' modes


def test_first_05_load_says_which_model_and_epoch_it_loaded(default_run, tmp_path):
    out, proc = default_run
    loaded = run("--load", str(out / "model.npz"), "--no-progress", cwd=tmp_path)
    accuracy = last_accuracy(proc.stdout)
    assert loaded.stdout.splitlines()[:2] == [
        f"loaded: {out / 'model.npz'}: default preset, 784-256-128-10 relu, epoch 2 of 2 "
        f"(test accuracy {accuracy:.4f} when saved)",
        "data: the shipped MNIST sample, 8,000 train / 2,000 test (offline)"]


@pytest.mark.parametrize("flags", [["--preset", "zhang"], ["--hidden", "64"],
                                   ["--preset", "fang", "--lr", "0.1", "--hidden", "8"]])
def test_first_05_load_refuses_the_flags_it_would_ignore(example, capsys, flags):
    shown = ", ".join(f for f in flags if f.startswith("--"))
    assert parse_error(example, capsys, "--load", "m.npz", *flags).endswith(
        "error: --load evaluates the checkpoint's network as it was saved (its "
        f"preset, sizes and activation are in the checkpoint): leave out {shown}")


def test_first_05_epoch_lr_is_the_rate_the_epoch_used(default_run):
    out, proc = default_run
    first, second = json.loads((out / "metrics.json").read_text())["epochs"]
    assert first["lr"] == 1e-3                            # cosine: the run starts at --lr
    assert second["lr"] == pytest.approx(5e-4) and first["last_lr"] > second["lr"]
    assert " lr 0.001 " in proc.stdout.splitlines()[2]


def test_first_05_metrics_json_has_the_mode_of_model_npz(default_run):
    out, _ = default_run
    assert stat.S_IMODE((out / "metrics.json").stat().st_mode) == stat.S_IMODE(
        (out / "model.npz").stat().st_mode) == 0o644


def test_first_05_resume_gives_the_numbers_of_an_uninterrupted_run(example, monkeypatch,
                                                                   tmp_path, capsys):
    args = ["--epochs", "3", "--limit", "300", "--hidden", "16", "--no-plots",
            "--no-progress", "--out"]               # default preset: Adam, cosine, shifts
    assert example.main([*args, str(tmp_path / "whole")]) == 0
    save = example.save_checkpoint

    def save_then_ctrl_c(cfg, model, data, out_dir, metrics, position):
        save(cfg, model, data, out_dir, metrics, position)
        if metrics["epochs"][-1]["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(example, "save_checkpoint", save_then_ctrl_c)
    assert example.main([*args, str(tmp_path / "cut")]) == 130
    assert f"go on with --resume {tmp_path / 'cut'}" in capsys.readouterr().err
    monkeypatch.setattr(example, "save_checkpoint", save)
    assert example.main(["--resume", str(tmp_path / "cut"), "--no-progress",
                         "--no-plots"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(
        f"loaded: {tmp_path / 'cut' / 'model.npz'}: default preset, 784-16-10 relu, epoch 1 "
        "of 3")
    whole, cut = (json.loads((tmp_path / d / "metrics.json").read_text())
                  for d in ("whole", "cut"))
    for metrics in (whole, cut):
        metrics["config"].pop("resume")
    assert without_times(whole) == without_times(cut)
    a, b = tg.load(tmp_path / "whole" / "model.npz"), tg.load(tmp_path / "cut" / "model.npz")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert a.metadata["rng"] == b.metadata["rng"]


def test_first_05_resume_of_a_checkpoint_without_optimizer_state_is_a_clear_error(
        default_run, tmp_path):
    out, _ = default_run
    ckpt = tg.load(out / "model.npz")
    tg.save(dict(ckpt), tmp_path / "model.npz", metadata={
        k: ckpt.metadata[k] for k in ("config", "epoch", "test_accuracy", "data")})
    proc = run("--resume", str(tmp_path), cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"error: --resume {tmp_path}: {tmp_path / 'model.npz'} holds no optimiser state (it "
        "was written before --resume existed); --load can evaluate it, but the run cannot go "
        "on")


def test_first_05_resume_of_a_finished_run_asks_for_more_epochs(default_run, tmp_path):
    out, _ = default_run
    proc = run("--resume", str(out), "--no-progress", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "the run has finished its 2 epochs; pass --epochs N (more than 2)" in proc.stderr


def test_first_05_resume_refuses_settings_of_its_own(example, capsys):
    line = parse_error(example, capsys, "--resume", "runs/x", "--lr", "0.1", "--sample")
    assert line.endswith("error: --resume continues the saved run with its own settings (only "
                         "--epochs may change): leave out --lr")


# issue 16, item 3: the docs' figures are tested or dated


DATA_LINE = "data: the shipped MNIST sample, 8,000 train / 2,000 test (offline)"


@pytest.mark.parametrize("page", ["README.md", "docs/index.md", "docs/mnist.md"])
def test_first_03_docs_quote_the_data_line_the_first_command_prints(example, page):
    assert example.load_data(example.parse_args([])).description == DATA_LINE
    assert DATA_LINE in " ".join((ROOT / page).read_text().split())


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_first_03_the_first_commands_figures_carry_date_and_machine(page):
    text = " ".join((ROOT / page).read_text().split())
    figures = re.findall(r"\(0\.\d{4} in \d+ s, measured on (\d{4}-\d\d-\d\d) on the "
                         r"project's 2-core [^)]*machine\)", text)
    assert len(figures) == 1, page
    assert "about a minute" not in text and "19 s" not in text


def test_first_03_every_result_in_mnist_md_says_when_it_was_measured():
    rows = [line for line in (ROOT / "docs" / "mnist.md").read_text().splitlines()
            if line.startswith("| `python examples/mnist_mlp.py") or
            line.startswith("| the same model")]
    assert len(rows) >= 10
    for row in rows:
        assert re.search(r"\| 20\d\d-\d\d-\d\d[^|]*\|$", row), row
    assert "Runs are deterministic for a given `--seed` on the same machine" in " ".join(
        (ROOT / "docs" / "mnist.md").read_text().split())
