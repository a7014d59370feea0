"""What the example scripts share: choosing the data, progress bars, JSON, plots, results.

The examples (`examples/mnist_mlp.py`, `examples/mnist_cnn.py`) keep the network and the
training step on one screen; the machinery around them lives here, documented once: the data
flags (`add_data_flags`, `check_data_flags`) and the data (`load_data`), shifts, progress
bars, the output folder, checkpoints to load, predictions in evaluation mode, and the results
(metrics.json, plots, the last lines). Progress bars need the `progress` extra (tqdm) and
plots the `plot` extra (matplotlib); without them the functions return None or [] and the run
goes on.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import data as datasets
from .atomic import atomic_write
from .autograd import no_grad
from .nn import Module
from .nn.checkpoint import Checkpoint, load

DATASETS = ("sample", "mnist", "fashion-mnist")
TITLES = {"sample": "MNIST", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
CLASS_NAMES = {
    "sample": [str(d) for d in range(10)],
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Boot"],
}
DOWNLOAD_TIMEOUT = 10.0  # seconds a mirror may stay silent before the next one is tried


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    """Add the flags that choose the data: --dataset, --sample, --data-dir, --download.

    `check_data_flags` checks them after parsing. Both examples take these four flags, with
    this help text.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_data_flags(parser)
    >>> parser.parse_args(["--dataset", "fashion-mnist"]).dataset
    'fashion-mnist'
    """
    a = parser.add_argument
    a("--dataset", choices=DATASETS,
      help="sample (the default; with --load, the data the checkpoint was trained on): the "
           "10,000 MNIST digits shipped in the package (8,000 train, 2,000 held-out test), "
           "offline; mnist: the full 60,000 / 10,000 digits; fashion-mnist: Zalando's "
           "clothing images (full datasets: from this machine's files, or with --download)")
    a("--sample", action="store_true", help="the same as --dataset sample")
    a("--data-dir", metavar="DIR",
      help="use exactly the standard IDX files in DIR (train-* to train, t10k-* to test): "
           "full MNIST, or Fashion-MNIST with --dataset fashion-mnist")
    a("--download", action="store_true",
      help="with --dataset mnist or fashion-mnist: download the files (checked against "
           "SHA-256 sums) if they are not on this machine")


class DataChoice(NamedTuple):
    """The dataset the data flags name, and whether any of them was given."""

    dataset: str      # 'sample', 'mnist' or 'fashion-mnist'
    given: bool       # False: no data flag (--load then tests on the checkpoint's own data)


def check_data_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> DataChoice:
    """The dataset the flags of `add_data_flags` choose, or `parser.error` if they clash.

    Without a flag the data is the shipped sample; --data-dir alone means MNIST.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The parser `add_data_flags` was called on; its `error` reports a clash.
    args : argparse.Namespace
        What `parser.parse_args` returned (read, not changed).

    Returns
    -------
    DataChoice
        `dataset`, and `given`: whether --dataset, --sample or --data-dir was passed.

    Raises
    ------
    SystemExit
        Through `parser.error` (status 2): --sample or --dataset sample with --data-dir or a
        full --dataset; --download without a full dataset.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_data_flags(parser)
    >>> check_data_flags(parser, parser.parse_args([]))
    DataChoice(dataset='sample', given=False)
    >>> check_data_flags(parser, parser.parse_args(["--data-dir", "files"]))
    DataChoice(dataset='mnist', given=True)
    """
    dataset = args.dataset or ("sample" if args.sample or not args.data_dir else "mnist")
    if args.sample and dataset != "sample" or args.data_dir and dataset == "sample":
        chosen = "--sample" if args.sample else "--dataset sample"
        full = [f"--dataset {args.dataset}"] if args.dataset not in (None, "sample") else []
        full += ["--data-dir"] if args.data_dir else []
        parser.error(f"{chosen} is the shipped MNIST sample: it goes with neither --data-dir "
                     f"nor --dataset mnist / fashion-mnist; leave out {chosen}, or "
                     f"{' and '.join(full)}")
    if args.download and dataset == "sample":
        parser.error("--download fetches a full dataset: add --dataset mnist (or "
                     "fashion-mnist), or leave out --download: the shipped sample needs no "
                     "download")
    return DataChoice(dataset, bool(args.dataset or args.sample or args.data_dir))


@dataclass
class Data:
    """Images and labels of one run, and the line that says which data they are."""

    x_train: np.ndarray                # (N, 28, 28) uint8
    y_train: np.ndarray                # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    description: str                   # "data: the shipped MNIST sample, ..."
    source: dict = field(default_factory=dict)


def load_data(dataset: str = "sample", data_dir: str | None = None, download: bool = False,
              limit: int = 0) -> Data:
    """The shipped MNIST sample (offline, the default), or a full dataset when asked.

    Parameters
    ----------
    dataset : {'sample', 'mnist', 'fashion-mnist'}
        'sample': the 10,000 digits shipped in the package (8,000 train, 2,000 test); no file
        is looked for and no network touched. The full datasets are read from this machine
        (docs/data.md says where they are looked for), or from `data_dir`, or fetched with
        `download`.
    limit : int
        Train on the first `limit` training images only (0: all).

    Raises
    ------
    SystemExit
        With a message naming what is missing and the flags that fix it (for scripts).

    Examples
    --------
    >>> data = load_data()
    >>> data.description
    'data: the shipped MNIST sample, 8,000 train / 2,000 test (offline)'
    """
    title = TITLES[dataset]
    if dataset == "sample":
        train, test = datasets.mnist_sample("train"), datasets.mnist_sample("test")
        where = "shipped sample"
    else:
        folder = _full_dataset_folder(dataset, title, data_dir, download)
        loader = datasets.mnist if dataset == "mnist" else datasets.fashion_mnist
        try:
            train = loader("train", root=folder, download=False)
            test = loader("test", root=folder, download=False)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"error: {title} in {folder}: {_first_line(exc)}") from None
        where = str(folder)
    (x_train, y_train), (x_test, y_test) = train, test
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    for split, images in (("training", x_train), ("test", x_test)):
        if not len(images):
            flag = f"--data-dir {where}" if data_dir else where
            raise SystemExit(f"error: {flag}: the {title} {split} files hold no images; "
                             "put the full files there")
    limited = f" (--limit {limit} of {len(train[0]):,})" if limit else ""
    if dataset == "sample":
        line = (f"data: the shipped MNIST sample, {len(x_train):,} train{limited} / "
                f"{len(x_test):,} test (offline)")
    else:
        line = (f"data: {title} from {where}, {len(x_train):,} train{limited} / "
                f"{len(x_test):,} test images")
    source = {"dataset": dataset, "kind": "sample" if dataset == "sample" else "full",
              "where": where, "train_size": len(x_train), "test_size": len(x_test)}
    return Data(x_train, y_train, x_test, y_test, line, source)


def _full_dataset_folder(dataset: str, title: str, data_dir, download: bool) -> Path:
    if data_dir:
        folder = Path(data_dir)
        missing = [base for pair in datasets.locate.FILES.values() for base in pair
                   if not datasets.locate.find_file(folder, base)]
        if missing:
            raise SystemExit(f"error: --data-dir {folder} lacks the {title} file(s) "
                             f"{', '.join(missing)} (gzipped or not); put the four standard "
                             "files there, or leave out --data-dir")
        return folder
    folder = datasets.find_dataset(dataset)
    if folder is not None:
        return folder
    if not download:
        searched = ", ".join(str(d) for d in datasets.search_dirs(dataset))
        raise SystemExit(f"error: the full {title} files are not on this machine (looked in "
                         f"{searched}); add --download to fetch them, pass --data-dir DIR, "
                         "or leave out --dataset to train on the shipped sample")
    try:
        return datasets.download(dataset, timeout=DOWNLOAD_TIMEOUT)
    except datasets.DownloadError as exc:
        raise SystemExit(f"error: could not download {title}: every mirror failed (why is "
                         f"above); put the files {', '.join(exc.files)} in {exc.folder} by "
                         "hand, or pass --data-dir DIR") from None
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: could not download {title}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def shift_images(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move each image (N, H, W) by a random (dy, dx) in [-max_shift, max_shift], filling
    with 0: the augmentation that helps handwritten digits.

    Examples
    --------
    >>> x = np.zeros((1, 3, 3), np.uint8); x[0, 1, 1] = 9
    >>> int(shift_images(x, 1, np.random.default_rng(0)).sum())   # moved, not lost
    9
    """
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def progress_bar(enabled: bool, total: int, desc: str, initial: int = 0):
    """A tqdm bar on a terminal (when enabled and tqdm is installed), else None; `initial`
    steps are shown as done already (a resumed run)."""
    if not (enabled and sys.stderr.isatty()):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, desc=desc, leave=False, unit="step",
                dynamic_ncols=True)


def say(text: str, bar=None) -> None:
    """Print a line without breaking a progress bar."""
    if bar is not None:
        bar.write(text)
    else:
        print(text, flush=True)


def make_out_dir(out: str | Path) -> Path:
    """The output folder, created if missing; SystemExit naming --out when it cannot be."""
    out_dir = Path(out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SystemExit(f"error: --out {out_dir}: {exc.strerror or exc}") from None
    return out_dir


def load_checkpoint(path) -> Checkpoint:
    """`tinygrad_edu.load(path)`, or SystemExit with its message (for --load, --resume)."""
    try:
        return load(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None


def predict(model: Module, batches, class_dim: int = 1) -> np.ndarray:
    """The predicted classes (argmax over `class_dim`) of the input Tensors `batches`, in
    evaluation mode (no dropout, BatchNorm's running statistics) and without recording a
    graph; the model is back in training mode after.

    Examples
    --------
    >>> from tinygrad_edu import Tensor, nn
    >>> predict(nn.ReLU(), [Tensor(np.array([[0.0, 2.0], [3.0, 1.0]]))]).tolist()
    [1, 0]
    """
    model.eval()
    with no_grad():
        preds = np.concatenate([model(x).data.argmax(axis=class_dim) for x in batches])
    model.train()
    return preds


def write_json(path: Path, obj) -> None:
    """Write JSON atomically (a temporary file renamed over the target), readable by all as
    model.npz is: the old file's mode, or rw-r--r--."""
    with atomic_write(Path(path), "w") as f:
        json.dump(obj, f, indent=2)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = 10) -> np.ndarray:
    """counts[i, j]: samples of class i predicted as j.

    Examples
    --------
    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), classes=2).tolist()
    [[1, 0], [1, 1]]
    """
    return np.bincount(y_true * classes + y_pred, minlength=classes * classes).reshape(
        classes, classes)


def save_results(out_dir: Path, metrics: dict, data: Data, preds: np.ndarray,
                 class_names: list[str], title: str, plots: bool = True) -> None:
    """The end of a run: metrics.json (with `test_accuracy` and `seconds` set), the plots
    (unless `plots` is False), then the lines `saved: ...` and `test accuracy: 0.XXXX`."""
    write_json(Path(out_dir) / "metrics.json", metrics)
    drawn = save_plots(out_dir, metrics["epochs"], data, preds, class_names, title) \
        if plots else []
    if plots and not drawn:
        print("plots: matplotlib is not installed (pip install 'tinygrad_edu[plot]')")
    print(f"saved: {out_dir}/ metrics.json, model.npz" + "".join(f", {p}" for p in drawn)
          + f"  ({metrics['seconds']:.1f}s)")
    print(f"test accuracy: {metrics['test_accuracy']:.4f}")


def save_plots(out_dir: Path, records: list[dict], data: Data, preds: np.ndarray,
               class_names: list[str], title: str) -> list[str]:
    """loss.png, accuracy.png, confusion_matrix.png and misclassified.png in `out_dir`, from
    per-epoch records (`epoch`, `loss`, `train_accuracy`, and `test_accuracy` in the epochs
    that were tested); [] without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return []
    out_dir = Path(out_dir)
    tested = [r for r in records if "test_accuracy" in r]
    curves = {"loss": [("training loss", records, "loss", "-")],
              "accuracy": [("train (during the epoch)", records, "train_accuracy", "-"),
                           ("test", tested, "test_accuracy", "o-")]}
    for name, lines in curves.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, rows, key, style in lines:
            ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], style, label=label)
        ax.set(xlabel="epoch", ylabel="training loss" if name == "loss" else name,
               title=f"{title}: {name}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if name == "accuracy":
            ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / f"{name}.png", dpi=100)
        plt.close(fig)
    cm = confusion_matrix(data.y_test, preds)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(cm, cmap="Blues")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(10), class_names, rotation=45 if len(class_names[0]) > 1 else 0)
    ax.set_yticks(range(10), class_names)
    accuracy = float((preds == data.y_test).mean())
    ax.set(xlabel="predicted", ylabel="true",
           title=f"confusion matrix (test accuracy {accuracy:.4f})")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(out_dir / "confusion_matrix.png", dpi=100)
    plt.close(fig)
    wrong = np.flatnonzero(preds != data.y_test)
    fig, axes = plt.subplots(6, 6, figsize=(7, 8))
    for ax, i in zip(axes.flat, list(wrong[:36]) + [None] * (36 - len(wrong[:36])),
                     strict=True):
        ax.axis("off")
        if i is not None:
            ax.imshow(data.x_test[i], cmap="gray_r")
            ax.set_title(f"true {class_names[data.y_test[i]]}\npred {class_names[preds[i]]}",
                         fontsize=7, color="crimson")
    fig.suptitle(f"misclassified test images ({len(wrong)} of {len(preds)})")
    fig.tight_layout()
    fig.savefig(out_dir / "misclassified.png", dpi=100)
    plt.close(fig)
    return ["loss.png", "accuracy.png", "confusion_matrix.png", "misclassified.png"]
