"""examples/mnist_cnn.py end to end on the shipped MNIST sample, with tiny budgets, in a
subprocess as a user runs it; and tinygrad_edu.training, the helpers it shares, with the data
flags both examples check the same way."""

import itertools
import json
import shutil

import numpy as np
import pytest

import tinygrad_edu as tg
from tests.example_scripts import ROOT, import_script, last_accuracy, run_script
from tinygrad_edu import training

EXAMPLE = ROOT / "examples" / "mnist_cnn.py"


def run(*args, cwd, check=True):
    return run_script(EXAMPLE, *args, cwd=cwd, timeout=300, check=check)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn")
    proc = run("--epochs", "2", "--limit", "1280", "--width", "8", "--out", str(out),
               "--no-progress", cwd=out)
    return out, proc


def test_cnn_example_trains_on_the_shipped_sample_and_ends_with_the_accuracy(short_run):
    out, proc = short_run
    lines = proc.stdout.splitlines()
    assert lines[0] == ("data: the shipped MNIST sample, 1,280 train (--limit 1280 of 8,000) "
                        "/ 2,000 test (offline)")
    assert last_accuracy(proc.stdout) > 0.5         # 40 steps: far above chance, 0.1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] == last_accuracy(proc.stdout)
    assert [r["epoch"] for r in metrics["epochs"]] == [1, 2]
    for name in ("model.npz", "loss.png", "accuracy.png", "confusion_matrix.png",
                 "misclassified.png"):
        assert (out / name).is_file()


def test_cnn_example_checkpoint_holds_batchnorm_buffers_and_load_tests_it(short_run):
    out, proc = short_run
    ckpt = tg.load(out / "model.npz")
    assert ckpt.metadata["epoch"] == 2 and ckpt.metadata["config"]["width"] == 8
    assert int(ckpt["1.num_batches_tracked"]) == 40                 # 2 x 1280 / 64 steps
    loaded = run("--load", str(out / "model.npz"), cwd=out)
    assert loaded.stdout.splitlines()[0] == f"loaded: {out / 'model.npz'}: epoch 2, width 8"
    assert last_accuracy(loaded.stdout) == last_accuracy(proc.stdout)   # eval() both times


@pytest.mark.parametrize("args, message", [
    (["--sample", "--dataset", "mnist"], "--sample is the shipped MNIST sample"),
    (["--download"], "--download fetches a full dataset"),
    (["--width", "7"], "--width must be even"),
    (["--lr", "0"], "--lr must be a positive number"),
    (["--shift", "9"], "--shift must lie in 0..4 pixels"),
])
def test_cnn_example_refuses_flags_it_cannot_honour(tmp_path, args, message):
    proc = run(*args, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and message in proc.stderr


def test_cnn_training_helpers_load_the_sample_and_shift_without_losing_ink():
    data = training.load_data("sample", limit=100)
    assert data.x_train.shape == (100, 28, 28) and data.x_test.shape == (2000, 28, 28)
    assert data.source["kind"] == "sample"
    shifted = training.shift_images(data.x_train[:5], 2, np.random.default_rng(0))
    assert shifted.shape == (5, 28, 28)
    # MNIST digits keep a 4-pixel border of zeros: a shift of 2 moves ink, never drops it
    np.testing.assert_array_equal(shifted.reshape(5, -1).sum(1),
                                  data.x_train[:5].reshape(5, -1).sum(1))
    with pytest.raises(SystemExit, match=r"lacks the MNIST file"):
        training.load_data("mnist", data_dir=str(ROOT / "docs"))


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_cnn_example_draws_its_graph_with_layer_clusters_and_nchw_shapes(tmp_path):
    proc = run("--draw", str(tmp_path / "cnn.svg"), "--width", "8", cwd=tmp_path)
    assert proc.stdout.strip() == f"wrote {tmp_path / 'cnn.svg'}"
    dot = (tmp_path / "cnn.dot").read_text()
    for text in ("0 (Conv2d)", "1 (BatchNorm2d)", "3 (MaxPool2d)", "11 (Dropout)",
                 "(8, 4, 28, 28) float32", "(8, 8, 5, 5) float32", "dropout mask / 0.75"):
        assert text in dot


# the data flags: one check (training.check_data_flags) for both examples

SCRIPTS = {"mnist_mlp": ROOT / "examples" / "mnist_mlp.py", "mnist_cnn": EXAMPLE}
SAMPLE_CLASH = ("{} is the shipped MNIST sample: it goes with neither --data-dir nor --dataset "
                "mnist / fashion-mnist; leave out {}, or {}")
DOWNLOAD_ALONE = ("--download fetches a full dataset: add --dataset mnist (or fashion-mnist), "
                  "or leave out --download: the shipped sample needs no download")


@pytest.fixture(scope="module")
def scripts():
    """Both example scripts as modules, to call their parse_args in-process."""
    with pytest.MonkeyPatch.context() as mp:
        yield {name: import_script(path, mp) for name, path in SCRIPTS.items()}


def data_choice(script, argv: list[str]) -> str | None:
    """The dataset the script's parse_args settles on; None: --load with no data flag (the
    checkpoint's own data)."""
    args = script.parse_args(argv)
    if hasattr(args, "dataset_given"):                   # mnist_cnn.py: a Namespace
        return args.dataset if args.dataset_given or not args.load else None
    return args.dataset                                  # mnist_mlp.py: a Config


def data_flag_error(script, capsys, argv: list[str]) -> str:
    """argparse's exit (status 2, usage line): the text after `error: `."""
    with pytest.raises(SystemExit) as info:
        script.parse_args(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("usage: "), err
    return err.strip().splitlines()[-1].split("error: ", 1)[1]


@pytest.mark.parametrize("name", list(SCRIPTS))
@pytest.mark.parametrize(("argv", "expected"), [
    ([], "sample"),
    (["--sample"], "sample"),
    (["--dataset", "sample", "--sample"], "sample"),
    (["--dataset", "fashion-mnist"], "fashion-mnist"),
    (["--data-dir", "d"], "mnist"),                     # --data-dir alone: full MNIST
    (["--data-dir", "d", "--dataset", "fashion-mnist"], "fashion-mnist"),
    (["--dataset", "mnist", "--download"], "mnist"),
    (["--load", "m.npz"], None),
    (["--load", "m.npz", "--sample"], "sample"),
    (["--load", "m.npz", "--data-dir", "d"], "mnist"),
    (["--sample", "--dataset", "mnist"],
     SAMPLE_CLASH.format("--sample", "--sample", "--dataset mnist")),
    (["--sample", "--data-dir", "d"], SAMPLE_CLASH.format("--sample", "--sample", "--data-dir")),
    (["--sample", "--dataset", "fashion-mnist", "--data-dir", "d"],
     SAMPLE_CLASH.format("--sample", "--sample", "--dataset fashion-mnist and --data-dir")),
    (["--dataset", "sample", "--data-dir", "d"],
     SAMPLE_CLASH.format("--dataset sample", "--dataset sample", "--data-dir")),
    (["--download"], DOWNLOAD_ALONE),
    (["--sample", "--download"], DOWNLOAD_ALONE),
    (["--load", "m.npz", "--download"], DOWNLOAD_ALONE),
])
def test_both_examples_resolve_or_refuse_data_flags_alike(scripts, capsys, name, argv,
                                                          expected):
    script = scripts[name]
    if expected is None or expected in training.DATASETS:
        assert data_choice(script, argv) == expected
    else:
        assert data_flag_error(script, capsys, argv) == expected


def test_both_examples_agree_on_every_combination_of_data_flags(scripts, capsys):
    for dataset, sample, data_dir, download, load in itertools.product(
            (None, *training.DATASETS), *[(False, True)] * 4):
        argv = ([f"--dataset={dataset}"] if dataset else []) + (["--sample"] if sample else []) \
            + (["--data-dir", "d"] if data_dir else []) + (["--download"] if download else []) \
            + (["--load", "m.npz"] if load else [])
        outcomes = []
        for script in scripts.values():
            try:
                outcomes.append(data_choice(script, argv))
            except SystemExit:
                outcomes.append(capsys.readouterr().err.strip().splitlines()[-1]
                                .split("error: ", 1)[1])
        assert outcomes[0] == outcomes[1], argv
