"""examples/mnist_cnn.py end to end on the shipped MNIST sample, with tiny budgets, in a
subprocess as a user runs it; and tinygrad_edu.training, the helpers it shares."""

import json
import shutil

import numpy as np
import pytest

import tinygrad_edu as tg
from tests.example_scripts import ROOT, last_accuracy, run_script
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
    (["--sample", "--dataset", "mnist"], "--sample is the shipped sample"),
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
