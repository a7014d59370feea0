"""Train a small LeNet-style convolutional network on MNIST with tinygrad_edu.

Two convolution blocks (Conv2d, BatchNorm2d, ReLU, MaxPool2d) and two dense layers, trained
with Adam on a cosine schedule; images are shifted by up to 2 pixels while training (MNIST
only). The network and the training step are in `build_model` and `train_epoch` below; the
data choice, progress bars, plots and JSON come from `tinygrad_edu.training`, shared with the
other examples. Testing switches the model to `eval()` (BatchNorm's running statistics, no
dropout), and back to `train()` after.

Data: the 10,000 MNIST digits shipped in the package (8,000 train, 2,000 held out) by
default, offline; `--dataset mnist` or `--dataset fashion-mnist` for a full dataset found on
this machine (or fetched with `--download`), `--data-dir DIR` for the standard files in DIR.
Each epoch saves model.npz (weights, buffers, the settings) in --out; `--load` tests one.

Results and how long they take: docs/mnist.md ("A convolutional network").

    python examples/mnist_cnn.py                          # shipped sample, 15 epochs
    python examples/mnist_cnn.py --dataset mnist          # full MNIST, 6 epochs
    python examples/mnist_cnn.py --dataset fashion-mnist
    python examples/mnist_cnn.py --load runs/cnn/model.npz
    python examples/mnist_cnn.py --draw docs/images/cnn_training_graph.svg
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")   # small products: one BLAS thread is fastest on 2 cores

import numpy as np  # noqa: E402

import tinygrad_edu as tg  # noqa: E402
from tinygrad_edu import Tensor, nn, optim, viz  # noqa: E402
from tinygrad_edu import training as tr  # noqa: E402
from tinygrad_edu.nn import functional as F  # noqa: E402

# The default number of epochs per dataset: each reaches its target accuracy (docs/mnist.md)
# in a few minutes on 2 cores; the sample's 8,000 images need more passes than 60,000 do.
EPOCHS = {"sample": 15, "mnist": 6, "fashion-mnist": 12}


def build_model(width: int = 32) -> nn.Module:
    """(N, 1, 28, 28) -> (N, 10) class scores."""
    return nn.Sequential(      # no conv bias: the batch norm after it subtracts the mean
        nn.Conv2d(1, width // 2, 5, padding=2, bias=False), nn.BatchNorm2d(width // 2),
        nn.ReLU(), nn.MaxPool2d(2),                                    # 16 x 14 x 14
        nn.Conv2d(width // 2, width, 5, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.MaxPool2d(2),                                               # 32 x 5 x 5
        nn.Flatten(), nn.Linear(width * 25, 128), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(128, 10))


def train_epoch(model, optimizer, schedule, data, args, rng, bar) -> dict:
    """One pass over the training set in shuffled minibatches: forward, loss, backward, step."""
    loss_sum = correct = 0
    order = rng.permutation(len(data.x_train))
    for start in range(0, len(order), args.batch_size):
        idx = order[start:start + args.batch_size]
        images = data.x_train[idx]
        if args.shift:
            images = tr.shift_images(images, args.shift, rng)
        x = Tensor(images[:, None].astype(np.float32) / 255)          # (B, 1, 28, 28)
        out = model(x)
        loss = F.cross_entropy(out, data.y_train[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        loss_sum += loss.item() * len(idx)
        correct += int((out.data.argmax(1) == data.y_train[idx]).sum())
        if bar is not None:
            bar.update()
    n = len(order)
    return {"loss": loss_sum / n, "train_accuracy": correct / n}


def predict(model: nn.Module, images: np.ndarray, chunk: int = 1000) -> np.ndarray:
    """Predicted classes, in evaluation mode and without recording a graph."""
    return tr.predict(model, (Tensor(images[i:i + chunk, None].astype(np.float32) / 255)
                              for i in range(0, len(images), chunk)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.load:
        return evaluate_checkpoint(args)
    if args.draw:
        return draw(args)
    data = tr.load_data(args.dataset, args.data_dir, args.download, args.limit)
    print(data.description)
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = build_model(args.width)
    steps = args.epochs * -(-len(data.x_train) // args.batch_size)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    schedule = optim.CosineLR(optimizer, total_steps=steps)
    print(f"model: LeNet-style CNN, {sum(p.size for p in model.parameters()):,} parameters, "
          f"Adam lr {args.lr:g} (cosine), batch {args.batch_size}, shifts {args.shift}px")
    out_dir = tr.make_out_dir(args.out)
    metrics = {"config": vars(args), "data": data.source, "epochs": []}
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        bar = tr.progress_bar(args.progress, -(-len(data.x_train) // args.batch_size),
                              f"epoch {epoch}/{args.epochs}")
        record = {"epoch": epoch, **train_epoch(model, optimizer, schedule, data, args, rng, bar)}
        if bar is not None:
            bar.close()
        record["test_accuracy"] = float((predict(model, data.x_test) == data.y_test).mean())
        record["seconds"] = time.perf_counter() - started
        metrics["epochs"].append(record)
        tr.say(f"epoch {epoch:>2}/{args.epochs}  loss {record['loss']:.4f}  train acc "
               f"{record['train_accuracy']:.4f}  test acc {record['test_accuracy']:.4f}  "
               f"({record['seconds']:.1f}s)")
        tg.save(model, out_dir / "model.npz", metadata={"config": vars(args), "epoch": epoch,
                                                          "test_accuracy": record["test_accuracy"]})
    preds = predict(model, data.x_test)
    accuracy = float((preds == data.y_test).mean())
    metrics.update(test_accuracy=accuracy, seconds=time.perf_counter() - started)
    tr.save_results(out_dir, metrics, data, preds, tr.CLASS_NAMES[args.dataset], "CNN",
                    plots=not args.no_plots)
    return 0


def evaluate_checkpoint(args) -> int:
    """--load: the saved network (its width is in the checkpoint) on the data given, or on
    the data it was trained on."""
    ckpt = tr.load_checkpoint(args.load)
    saved = ckpt.metadata.get("config", {})
    dataset = args.dataset if args.dataset_given else saved.get("dataset", "sample")
    print(f"loaded: {args.load}: epoch {ckpt.metadata.get('epoch', '?')}, width "
          f"{saved.get('width', 32)}")
    data = tr.load_data(dataset, args.data_dir, args.download)
    print(data.description)
    model = build_model(saved.get("width", 32))
    try:
        model.load_state_dict(ckpt)
    except nn.StateDictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"test accuracy: {float((predict(model, data.x_test) == data.y_test).mean()):.4f}")
    return 0


def draw(args) -> int:
    """--draw PATH: the graph of one training step on 8 digits, after backward, with each
    layer a cluster and every tensor's NCHW shape (needs Graphviz's `dot`)."""
    tg.manual_seed(args.seed)
    model = build_model(args.width)
    data = tr.load_data(args.dataset, args.data_dir, args.download)
    images, labels = data.x_train[:8], data.y_train[:8]
    loss = F.cross_entropy(model(Tensor(images[:, None].astype(np.float32) / 255)), labels)
    loss.backward(retain_graph=True)
    graph = viz.draw_graph(loss, model=model, collapse_modules=True, direction="TB",
                              title="the default CNN, one training step on 8 digits")
    print("wrote", viz.render(graph, args.draw))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train a LeNet-style CNN on MNIST with "
                                            "tinygrad_edu.", allow_abbrev=False)
    tr.add_data_flags(p)
    a = p.add_argument
    a("--epochs", type=int, help="passes over the training data (default: "
      + ", ".join(f"{n} for {d}" for d, n in EPOCHS.items()) + ")")
    a("--batch-size", type=int, default=64, help="samples per step (default 64)")
    a("--lr", type=float, default=2e-3, help="Adam's initial learning rate (default 0.002)")
    a("--width", type=int, default=32, help="channels of the second convolution (default 32)")
    a("--shift", type=int, help="random shifts of up to this many pixels while training "
      "(default 2 for digits, 0 for Fashion-MNIST)")
    a("--seed", type=int, default=0, help="seed of initialisation, shuffling, dropout")
    a("--limit", type=int, default=0, metavar="N", help="train on the first N images only")
    a("--out", default="runs/cnn", metavar="DIR", help="output folder (default runs/cnn)")
    a("--no-progress", action="store_true", help="no progress bars")
    a("--no-plots", action="store_true", help="no PNG plots")
    a("--load", metavar="CHECKPOINT", help="test a saved model.npz instead of training")
    a("--draw", metavar="PATH", help="draw the graph of one training step to PATH (.svg, "
      ".png) instead of training")
    args = p.parse_args(argv)
    args.dataset, args.dataset_given = tr.check_data_flags(p, args)
    if args.epochs is None:
        args.epochs = EPOCHS[args.dataset]
    for name in ("epochs", "batch_size", "width"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.width % 2:
        p.error("--width must be even (the first convolution has width / 2 channels)")
    if not (args.lr > 0 and np.isfinite(args.lr)):
        p.error("--lr must be a positive number")
    if args.seed < 0 or args.limit < 0:
        p.error("--seed and --limit must be >= 0")
    if args.shift is None:
        args.shift = 0 if args.dataset == "fashion-mnist" else 2
    elif not 0 <= args.shift <= 4:
        p.error("--shift must lie in 0..4 pixels")
    args.progress = not args.no_progress
    return args


if __name__ == "__main__":
    sys.exit(main())
