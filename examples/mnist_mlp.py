"""Train the seed documents' MNIST networks with tinygrad_edu, on real digits.

Every network here is built from Tensor ops and trained by the generic `loss.backward()`;
nothing computes a gradient by hand, except `--verify`, which recomputes the documents'
hand-derived formulas in plain numpy beside `.backward()` and prints the largest difference.

Presets (`--preset`), one per seed document; any explicit flag overrides a preset's value:

  zhang    documents 000/003: 784-10-10, ReLU, softmax + cross-entropy, samples as columns
           (Z1 = W1 X + b1), full-batch gradient descent (one epoch = one iteration),
           alpha = 0.1, weights and biases uniform in [-0.5, 0.5), inputs in [0, 1], 500
           iterations (document 003: about 85%, and 87% at 1000: use --epochs 1000; the log
           shows the test accuracy every 50 iterations).
  fang     document 001: 784-128-64-10, softmax + cross-entropy, per-example SGD (batch 1),
           20 epochs. The document leaves the hidden activation Q and the rate alpha open:
           ReLU and alpha = 0.01, with He initialisation.
  khan     document 002: 784-392-196-10, sigmoid on every layer, MSE cost 1/2 ||a - y||^2
           averaged over the minibatch, weights and biases `rand * 0.01`, learning rate
           0.003, and its loop: 200 "epochs" of ONE random minibatch of 32 each. As written
           it stays at chance. No learning rate rescues 200 minibatches: from lr 1 up, the
           first steps drive every output sigmoid to 0 where its slope vanishes (stuck for
           good); at lr 0.3 to 0.7 the network sits on a plateau (every output = 0.1) for
           ~3,000 minibatches, then learns: `--lr 0.5 --epochs 20000` reaches about 91%.
  default  the best MLP here: 784-256-128-10 ReLU, Adam (1e-3) with a cosine schedule,
           He initialisation, weight decay 1e-4, minibatches of 128, 20 epochs, and for
           MNIST random shifts of up to 2 pixels (not for Fashion-MNIST, where they cost
           two points).

Data: by default the 10,000 real MNIST digits shipped in the package (8,000 to train, 2,000
held out to test), offline: the default run touches no network and looks for no files. The
full datasets only when asked: `--dataset mnist` or `--dataset fashion-mnist` reads the
files if they are on this machine (docs/data.md says where they are looked for), and
`--download` also fetches them, checked against SHA-256 sums; `--data-dir DIR` reads exactly
the standard files in DIR. The first line printed says which data is used.

Checkpoints: at each logged epoch, model.npz in --out holds the weights, the optimiser's
state, the epoch and the random generator's state: `--load` evaluates it, `--resume RUN_DIR`
continues the run where it stopped (to the same numbers as a run never interrupted).

Results and how long they take: docs/mnist.md, with the commands that produced them.

Examples
--------
    python examples/mnist_mlp.py                          # default preset, shipped sample
    python examples/mnist_mlp.py --dataset mnist --download   # full MNIST (60,000 / 10,000)
    python examples/mnist_mlp.py --preset zhang --epochs 1000
    python examples/mnist_mlp.py --preset khan --lr 0.5 --epochs 20000 --log-every 1000
    python examples/mnist_mlp.py --preset fang --verify 1000
    python examples/mnist_mlp.py --load runs/default/model.npz
    python examples/mnist_mlp.py --resume runs/default    # after Ctrl-C: go on from there
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import textwrap
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

# One BLAS thread, unless you set these yourself: the matrix products here are small, and on
# a busy 2-core machine OpenBLAS's spinning worker threads made them 3 to 10 times slower
# (measured). numpy reads the setting when it is first imported, so it comes first.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

import tinygrad_edu as tg  # noqa: E402
from tinygrad_edu import Tensor, nn, optim  # noqa: E402
from tinygrad_edu import data as datasets  # noqa: E402
from tinygrad_edu import training as tr  # noqa: E402
from tinygrad_edu.nn import functional as F  # noqa: E402

# ---- configuration ----------------------------------------------------------------------


@dataclass
class Config:
    preset: str = "default"
    dataset: str | None = "sample"  # the shipped sample; "mnist", "fashion-mnist": full sets
    data_dir: str | None = None
    download: bool = False          # fetch a full dataset that is not on this machine
    epochs: int = 20
    batch_size: int = 128           # 0: the whole training set in one batch (full batch)
    batches_per_epoch: int = 0      # 0: one pass over the data; k: k random minibatches
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.0
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    hidden: tuple[int, ...] = (256, 128)
    activation: str = "relu"
    loss: str = "cross-entropy"
    init: str = "kaiming"
    layout: str = "rows"
    augment: int = 2
    seed: int = 0
    limit: int = 0
    log_every: int = 1
    out: str | None = None
    progress: bool = True
    plots: bool = True
    load: str | None = None
    resume: str | None = None
    verify: int = 0


PRESETS: dict[str, dict] = {
    "zhang": dict(epochs=500, batch_size=0, lr=0.1, optimizer="sgd", weight_decay=0.0,
                  schedule="none", hidden=(10,), activation="relu", loss="cross-entropy",
                  init="zhang", layout="columns", augment=0, log_every=50),
    "fang": dict(epochs=20, batch_size=1, lr=0.01, optimizer="sgd", weight_decay=0.0,
                 schedule="none", hidden=(128, 64), activation="relu", loss="cross-entropy",
                 init="kaiming", augment=0),
    "khan": dict(epochs=200, batch_size=32, batches_per_epoch=1, lr=0.003, optimizer="sgd",
                 weight_decay=0.0, schedule="none", hidden=(392, 196), activation="sigmoid",
                 loss="mse", init="khan", augment=0, log_every=20),
    "default": {},
}

INITS = {  # name -> (weight initialiser, bias initialiser), see tinygrad_edu.nn.init
    "kaiming": ("kaiming_uniform", "zeros"),
    "xavier": ("xavier_uniform", "zeros"),
    "zhang": ("uniform", "uniform"),                      # rand - 0.5: U[-0.5, 0.5)
    "khan": (lambda shape, rng: nn.init.uniform(shape, rng, 0.0, 0.01),) * 2,  # rand * 0.01
}


# ---- the networks -----------------------------------------------------------------------


class ColumnsMLP(nn.Module):
    """Documents 000-003's network with samples as columns: Z_l = W_l A_{l-1} + b_l.

    X is (784, m); W_l is (n_l, n_{l-1}) and b_l is (n_l, 1), broadcast over the m columns
    (003-bias). The parameters keep the documents' names: W1, b1, W2, b2, ...
    """

    def __init__(self, sizes, activation: str, sigmoid_output: bool, init: str, rng):
        w_init, b_init = (nn.init.get_initializer(i) for i in INITS[init])
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            setattr(self, f"W{i}", Tensor(w_init((n_out, n_in), rng), requires_grad=True))
            setattr(self, f"b{i}", Tensor(np.asarray(b_init((n_out,), rng)).reshape(n_out, 1),
                                          requires_grad=True))
        self.depth, self.activation, self.sigmoid_output = len(sizes) - 1, activation, \
            sigmoid_output

    def forward(self, x: Tensor) -> Tensor:
        a = x
        for i in range(1, self.depth + 1):
            z = getattr(self, f"W{i}") @ a + getattr(self, f"b{i}")
            last = i == self.depth
            a = z if last else (z.relu() if self.activation == "relu" else z.sigmoid())
        return a.sigmoid() if self.sigmoid_output else a   # logits, or document 002's a_L


def build_model(cfg: Config, rng: np.random.Generator) -> nn.Module:
    """An MLP 784-hidden-10 in the chosen layout; with MSE the outputs go through a sigmoid."""
    sizes = (784, *cfg.hidden, 10)
    if cfg.layout == "columns":
        return ColumnsMLP(sizes, cfg.activation, cfg.loss == "mse", cfg.init, rng)
    w_init, b_init = INITS[cfg.init]
    act = nn.ReLU if cfg.activation == "relu" else nn.Sigmoid
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out, init=w_init, bias_init=b_init, rng=rng), act()]
    layers.pop()                                     # the last layer gives logits...
    if cfg.loss == "mse":
        layers.append(nn.Sigmoid())                  # ...or sigmoid outputs (document 002)
    return nn.Sequential(*layers)


def weight_bias_pairs(model: nn.Module) -> list[tuple[Tensor, Tensor]]:
    """(W, b) per layer, W shaped (n_out, n_in) as in the documents, in either layout."""
    if isinstance(model, ColumnsMLP):
        return [(getattr(model, f"W{i}"), getattr(model, f"b{i}"))
                for i in range(1, model.depth + 1)]
    return [(m.weight, m.bias) for m in model if isinstance(m, nn.Linear)]


def in_layout(cfg: Config, x: np.ndarray) -> np.ndarray:
    """Rows of inputs (m, 784) as the network takes them: (784, m) in columns layout."""
    return np.ascontiguousarray(x.T) if cfg.layout == "columns" else x


def compute_loss(cfg: Config, out: Tensor, labels: np.ndarray) -> Tensor:
    """Mean over the batch of cross-entropy (softmax inside) or of 1/2 ||a - y||^2."""
    class_dim = 0 if cfg.layout == "columns" else 1
    if cfg.loss == "mse":                            # document 002: C = 1/(2m) sum ||a - y||^2
        y = F.one_hot(labels, 10)
        y = y.T if class_dim == 0 else y
        return 0.5 * ((out - y) ** 2).sum(dim=class_dim).mean()
    if class_dim == 0:                               # documents 000/003: columns, Y one-hot
        return -(F.one_hot(labels, 10).T * out.log_softmax(dim=0)).sum(dim=0).mean()
    return F.cross_entropy(out, labels)


def predictions(cfg: Config, out: Tensor) -> np.ndarray:
    """The predicted class: argmax of the outputs (000-argmax: not their max)."""
    return out.data.argmax(axis=0 if cfg.layout == "columns" else 1)


def make_optimizer(cfg: Config, model: nn.Module, total_steps: int):
    """The optimiser and (or None) its schedule, stepped once per gradient step."""
    params = list(model.parameters())
    if cfg.optimizer == "adam":
        opt = optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.schedule == "cosine":
        return opt, optim.CosineLR(opt, total_steps=total_steps)
    if cfg.schedule == "step":
        return opt, optim.StepLR(opt, step_size=max(1, total_steps // 4), gamma=0.1)
    return opt, None

# ---- training ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Train the network the flags describe, then test it; or --load: test a checkpoint;
    or --resume: go on with a stopped run."""
    cfg = parse_args(argv)
    if cfg.load:
        return evaluate_checkpoint(cfg)
    cfg, data, metrics, saved = resume_run(cfg) if cfg.resume else new_run(cfg)
    model = build_model(cfg, np.random.default_rng(cfg.seed))
    if saved:
        model.load_state_dict(saved["checkpoint"])
    else:
        print(f"model: {cfg.preset} preset, {'-'.join(map(str, (784, *cfg.hidden, 10)))} "
              f"{cfg.activation}, {cfg.loss}, {cfg.optimizer} lr {cfg.lr:g}, "
              f"{sum(p.size for p in model.parameters())} parameters")
    run = Run(cfg, model, data, metrics, saved)  # optimiser, schedule, generator, counts
    optimizer = run.optimizer
    try:
        for epoch in range(run.first_epoch, cfg.epochs + 1):
            for idx in run.start_epoch(epoch):       # the sample indices of each step
                x, y = run.inputs(idx), data.y_train[idx]
                out = model(Tensor(x))                # (m, 10), or (10, m) in columns layout
                loss = compute_loss(cfg, out, y)
                optimizer.zero_grad()
                loss.backward()
                run.verify(x, y, loss)                # --verify: the documents' formulas
                optimizer.step()
                run.count(loss, out, y)               # the schedule's step, sums, progress
            run.end_epoch()                           # every --log-every: test, checkpoint
    except KeyboardInterrupt:
        return run.interrupted()
    return run.finish()


class Run:
    """What the loop in `main` keeps between steps: the optimiser and its schedule, the
    random generator, the step count, the epoch's sums and progress bars; it logs, tests
    and checkpoints each epoch and writes the results at the end.

    `saved` (a checkpoint's position, with its optimiser state) restores the optimiser,
    the schedule's position, the random generator and the epoch, so the run goes on as if
    it had never stopped."""

    def __init__(self, cfg: Config, model: nn.Module, data: tr.Data, metrics: dict,
                 saved: dict | None) -> None:
        check_batches(cfg, len(data.x_train))
        self.cfg, self.model, self.data, self.metrics = cfg, model, data, metrics
        self.out_dir = tr.make_out_dir(cfg.out)
        self.started = time.perf_counter() - metrics.get("seconds", 0.0)
        self.rng = np.random.default_rng(cfg.seed + 1)
        # without augmentation the inputs are made once, in the network's layout
        self.x_all = None if cfg.augment else in_layout(cfg, as_inputs(data.x_train))
        self.steps_per_epoch = len(minibatches(cfg, len(data.x_train), 0,
                                               np.random.default_rng(0)))
        self.optimizer, self.schedule = make_optimizer(cfg, model,
                                                       cfg.epochs * self.steps_per_epoch)
        self.step, self.first_epoch = 0, 1
        if saved is not None:
            self.optimizer.load_state_dict(saved["optimizer"])
            self.step, self.first_epoch = saved["step"], saved["epoch"] + 1
            if self.schedule is not None:
                self.schedule.last_step = saved["schedule_step"]
                self.optimizer.lr = self.schedule.lr_at(self.schedule.last_step)
            self.rng.bit_generator.state = saved["rng"]
        self.bar = tr.progress_bar(cfg.progress, cfg.epochs, "training", self.first_epoch - 1) \
            if self.steps_per_epoch == 1 else None
        self.clock = time.perf_counter()

    def start_epoch(self, epoch: int) -> list:
        """The sample indices of each step of `epoch`; the epoch's sums start at zero."""
        self.epoch, self.epoch_started = epoch, time.perf_counter()
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0
        self.first_lr = self.optimizer.lr             # the rate the epoch's first step uses
        batches = minibatches(self.cfg, len(self.data.x_train), epoch, self.rng)
        self.n_steps = len(batches)
        self.epoch_bar = tr.progress_bar(self.cfg.progress, len(batches),
                                         f"epoch {epoch}/{self.cfg.epochs}") \
            if self.steps_per_epoch > 1 else None
        return batches

    def inputs(self, idx: np.ndarray) -> np.ndarray:
        """The inputs of one step, in the network's layout (shifted when augmenting)."""
        return batch_inputs(self.cfg, self.data, self.x_all, idx, self.rng)

    def verify(self, x: np.ndarray, y: np.ndarray, loss: Tensor) -> None:
        """Every --verify steps, after backward: the largest |hand-derived - .backward()|."""
        step = self.step + 1                          # this step (counted after the update)
        if not (self.cfg.verify and step % self.cfg.verify == 0):
            return
        diff = verify_difference(self.cfg, self.model, x, y)
        self.metrics["verify"].append({"epoch": self.epoch, "step": step, "loss": loss.item(),
                                       "max_abs_diff": diff})
        tr.say(f"verify step {step}: loss {loss.item():.4f}  max |hand-derived - "
               f".backward()| = {diff:.2e}", self.epoch_bar or self.bar)

    def count(self, loss: Tensor, out: Tensor, y: np.ndarray) -> None:
        """After the update: the schedule's step, the epoch's sums, the progress bar."""
        self.step += 1
        self.last_lr = self.optimizer.lr
        if self.schedule is not None:
            self.schedule.step()
        self.loss_sum += loss.item() * len(y)
        self.correct += int((predictions(self.cfg, out) == y).sum())
        self.seen += len(y)
        bar = self.epoch_bar
        if bar is not None:
            bar.update()
            if bar.n % 20 == 0 or bar.n == bar.total:
                bar.set_postfix(loss=f"{self.loss_sum / self.seen:.4f}",
                                acc=f"{self.correct / self.seen:.4f}", refresh=False)

    def end_epoch(self) -> None:
        """The epoch's record; every --log-every epochs (and the last) also the test
        accuracy, the log line and the checkpoint."""
        cfg, epoch = self.cfg, self.epoch
        if self.epoch_bar is not None:
            self.epoch_bar.close()
        record = {"epoch": epoch, "steps": self.n_steps, "loss": self.loss_sum / self.seen,
                  "train_accuracy": self.correct / self.seen, "lr": self.first_lr,
                  "last_lr": self.last_lr, "seconds": time.perf_counter() - self.epoch_started}
        if self.bar is not None:
            self.bar.update()
            self.bar.set_postfix(loss=f"{record['loss']:.4f}",
                                 acc=f"{record['train_accuracy']:.4f}", refresh=False)
        self.metrics["epochs"].append(record)
        if epoch % cfg.log_every == 0 or epoch == cfg.epochs:
            record["test_accuracy"], _ = evaluate(cfg, self.model, self.data.x_test,
                                                  self.data.y_test)
            tr.say(f"epoch {epoch:>{len(str(cfg.epochs))}}/{cfg.epochs}  loss "
                   f"{record['loss']:.4f}  train acc {record['train_accuracy']:.4f}  test acc "
                   f"{record['test_accuracy']:.4f}  lr {record['lr']:.3g}  "
                   f"({time.perf_counter() - self.clock:.1f}s)", self.bar)
            save_checkpoint(cfg, self.model, self.data, self.out_dir, self.metrics, {
                "optimizer": self.optimizer, "step": self.step,
                "rng": self.rng.bit_generator.state,
                "schedule_step": self.schedule.last_step if self.schedule is not None else 0})
        if epoch == cfg.epochs and self.bar is not None:
            self.bar.close()

    def interrupted(self) -> int:
        """Ctrl-C: metrics.json says so; the last checkpoint stays for --resume."""
        self.metrics["interrupted"] = True
        self.metrics["seconds"] = time.perf_counter() - self.started
        tr.write_json(self.out_dir / "metrics.json", self.metrics)
        last = [r["epoch"] for r in self.metrics["epochs"] if "test_accuracy" in r]
        kept = (f"the checkpoint of epoch {last[-1]} is kept in {self.out_dir / 'model.npz'}; "
                f"go on with --resume {self.out_dir}" if last
                else "no epoch had finished: no checkpoint")
        print(f"\ninterrupted: {kept}", file=sys.stderr)
        return 130

    def finish(self) -> int:
        """Test the trained network; metrics.json, plots, and the last line's accuracy."""
        self.metrics["seconds"] = time.perf_counter() - self.started
        accuracy, preds = evaluate(self.cfg, self.model, self.data.x_test, self.data.y_test)
        self.metrics["test_accuracy"] = accuracy
        tr.save_results(self.out_dir, self.metrics, self.data, preds,
                        tr.CLASS_NAMES[self.cfg.dataset], self.cfg.preset, self.cfg.plots)
        return 0


def new_run(cfg: Config) -> tuple[Config, tr.Data, dict, None]:
    """A run from the start: its data (the first line printed) and empty metrics."""
    data = load_data(cfg)
    print(data.description)
    metrics = {"config": asdict(cfg), "data": {**data.source, "description": data.description},
               "epochs": [], "verify": [], "test_accuracy": None, "interrupted": False}
    return cfg, data, metrics, None


def resume_run(cfg: Config) -> tuple[Config, tr.Data, dict, dict]:
    """--resume RUN_DIR: the saved run's settings, data, metrics so far, and position
    (weights, optimiser, epoch, generator)."""
    run = Path(cfg.resume)
    path = run / "model.npz" if run.is_dir() else run
    ckpt, saved = read_checkpoint(str(path))
    meta = ckpt.metadata
    if ckpt.optimizer is None or "rng" not in meta:
        raise SystemExit(f"error: --resume {cfg.resume}: {path} holds no optimiser state (it "
                         "was written before --resume existed); --load can evaluate it, but "
                         "the run cannot go on")
    epochs = cfg.epochs or saved.epochs
    if meta["epoch"] >= epochs:
        raise SystemExit(f"error: --resume {cfg.resume}: the run has finished its "
                         f"{meta['epoch']} epochs; pass --epochs N (more than "
                         f"{meta['epoch']}) to train further")
    cfg = replace(saved, epochs=epochs, out=cfg.out or str(path.parent), progress=cfg.progress,
                  plots=cfg.plots, resume=cfg.resume, load=None)
    print(describe_checkpoint(str(path), ckpt, saved))
    data = load_data(cfg)
    print(data.description)
    if {k: data.source[k] for k in ("train_size", "test_size")} != {
            k: meta["data"][k] for k in ("train_size", "test_size")}:
        raise SystemExit(f"error: --resume {cfg.resume}: the run trained on "
                         f"{meta['data']['train_size']} / {meta['data']['test_size']} images "
                         f"from {meta['data']['where']}, but {data.description[6:]}")
    metrics = meta["metrics"]
    metrics["epochs"] = [r for r in metrics["epochs"] if r["epoch"] <= meta["epoch"]]
    metrics["config"] = asdict(cfg)
    metrics["interrupted"], metrics["test_accuracy"] = False, None
    position = {"checkpoint": ckpt, "optimizer": ckpt.optimizer, "step": meta["step"],
                "epoch": meta["epoch"], "schedule_step": meta["schedule_step"],
                "rng": meta["rng"]}
    return cfg, data, metrics, position


def evaluate(cfg: Config, model: nn.Module, images: np.ndarray, labels: np.ndarray,
             chunk: int = 2000) -> tuple[float, np.ndarray]:
    """Accuracy on (images, labels) and the predicted classes, without recording a graph."""
    x = as_inputs(images)
    preds = tr.predict(model, (Tensor(in_layout(cfg, x[i:i + chunk]))
                               for i in range(0, len(x), chunk)),
                       class_dim=0 if cfg.layout == "columns" else 1)
    return float((preds == labels).mean()), preds


# ---- the command line -------------------------------------------------------------------




def parse_args(argv: list[str] | None = None) -> Config:
    """Read the command line; a preset fills in every value a flag does not give."""
    p = argparse.ArgumentParser(
        description="Train an MLP on MNIST with tinygrad_edu: the seed documents' networks "
                    "(presets zhang, fang, khan) or the best one here (default).",
        epilog=_presets_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False)       # --load checks which flags were given by their full names
    a = p.add_argument
    a("--preset", choices=list(PRESETS),
      help="zhang: docs 000/003 (784-10-10, full batch); fang: doc 001 (784-128-64-10, "
           "batch 1); khan: doc 002 (784-392-196-10 sigmoid, MSE); default: the best MLP "
           "(the default)")
    tr.add_data_flags(p)
    a("--no-download", action="store_true", help=argparse.SUPPRESS)  # the default now
    a("--epochs", type=int, help="passes over the training data (for full-batch training, "
                                  "one epoch is one iteration)")
    a("--batch-size", type=int, help="samples per gradient step; 0 = the whole training set")
    a("--batches-per-epoch", type=int,
      help="0 = one pass over the data per epoch; k = k random minibatches of --batch-size "
           "per epoch, drawn without replacement (document 002's loop uses 1)")
    a("--lr", type=float, help="learning rate (alpha in the documents)")
    a("--optimizer", choices=["sgd", "adam"], help="plain/momentum SGD, or Adam")
    a("--momentum", type=float, help="SGD momentum (0 = plain gradient descent)")
    a("--weight-decay", type=float, help="L2 weight decay added to every gradient")
    a("--schedule", choices=["none", "cosine", "step"],
      help="learning-rate schedule over the run's steps: constant, cosine down to 0, or "
           "x0.1 after each quarter of the run")
    a("--hidden", type=_sizes, metavar="SIZES", help="hidden layer sizes, e.g. 128,64")
    a("--activation", choices=["relu", "sigmoid"], help="activation of the hidden layers")
    a("--loss", choices=["cross-entropy", "mse"],
      help="cross-entropy over softmax outputs, or document 002's 1/2 ||sigmoid(z) - y||^2")
    a("--init", choices=list(INITS),
      help="initialisation: kaiming (He) or xavier uniform weights with zero biases; zhang: "
           "U[-0.5, 0.5) (docs 000/003); khan: U[0, 0.01) (doc 002)")
    a("--layout", choices=["rows", "columns"],
      help="samples as rows (x @ W.T + b, nn.Linear) or as columns (W @ X + b, documents "
           "000-003)")
    a("--augment", type=int, metavar="PIXELS",
      help=f"shift each training image by a random offset of up to PIXELS (0 = off, at most "
           f"{MAX_SHIFT}; the default preset uses 2 for MNIST, 0 for Fashion-MNIST)")
    a("--seed", type=int,
      help="seed of initialisation, shuffling and augmentation (default 0)")
    a("--limit", type=int, metavar="N",
      help="train on the first N training samples only (0 = all, the default): for quick "
           "runs")
    a("--log-every", type=int, metavar="K", help="evaluate, print and checkpoint every K epochs")
    a("--out", metavar="DIR", help="output folder (default runs/<preset>)")
    a("--no-progress", action="store_true", help="no progress bars (they need tqdm and a "
                                                 "terminal)")
    a("--no-plots", action="store_true", help="do not draw PNG plots")
    a("--load", metavar="CHECKPOINT",
      help="evaluate a saved model (model.npz) on the test set instead of training; the "
           "network is the checkpoint's (no --preset, --hidden, ...)")
    a("--resume", metavar="RUN_DIR",
      help="continue the run saved in RUN_DIR (its model.npz: weights, optimiser state, "
           "epoch) with its own settings; --epochs N to train to another total")
    a("--verify", type=int, nargs="?", const=1, default=0, metavar="N",
      help="every N steps, also compute the document's hand-derived gradients in numpy "
           "and print the largest difference from .backward() (presets zhang, fang, khan)")
    args = p.parse_args(argv)

    flags = {name for name, value in vars(args).items() if value not in (None, False, 0)}
    _check_modes(p, args, flags)
    dataset, data_given = tr.check_data_flags(p, args)
    preset = args.preset or "default"
    values = {**PRESETS[preset]}
    if preset == "default" and dataset == "fashion-mnist":
        values["augment"] = 0    # shifts help digits, not clothes: 88.0% with, 90.1% without
    given = {name for name in PRESET_KEYS if getattr(args, name) is not None}
    values.update({name: getattr(args, name) for name in given})
    if args.resume and "epochs" not in given:
        values["epochs"] = 0                 # 0: the saved run's own number of epochs
    if args.load and not data_given:
        dataset = None                       # None: the data the checkpoint was trained on
    cfg = Config(preset=preset, dataset=dataset, data_dir=args.data_dir,
                 download=args.download, seed=args.seed or 0, limit=args.limit or 0,
                 out=args.out or (None if args.resume else f"runs/{preset}"),
                 progress=not args.no_progress,
                 plots=not args.no_plots, load=args.load, resume=args.resume,
                 verify=args.verify, **values)
    _check_config(p, cfg, given)
    return cfg


def _check_modes(parser: argparse.ArgumentParser, args, flags: set[str]) -> None:
    """--load and --resume take the checkpoint's network; refuse flags they would ignore."""
    def refuse(mode: str, names, why: str) -> None:
        bad = [f"--{n.replace('_', '-')}" for n in names if n in flags]
        if bad:
            parser.error(f"{mode} {why}: leave out {', '.join(bad)}")

    if args.load and args.resume:
        parser.error("--load evaluates a checkpoint and --resume trains it further: give one")
    if args.load:
        refuse("--load", _RUN_FLAGS, "evaluates the checkpoint's network as it was saved "
               "(its preset, sizes and activation are in the checkpoint)")
        refuse("--load", ("out",), "writes nothing")
    if args.resume:
        refuse("--resume", (n for n in _RUN_FLAGS if n != "epochs"),
               "continues the saved run with its own settings (only --epochs may change)")
        refuse("--resume", _DATA_FLAGS, "trains on the data the run was started with")


MAX_SHIFT = 4  # MNIST's digits fill the central 20x20 pixels: shifts past 4 cut them off


PRESET_KEYS = ("epochs", "batch_size", "batches_per_epoch", "lr", "optimizer", "momentum",
               "weight_decay", "schedule", "hidden", "activation", "loss", "init", "layout",
               "augment", "log_every")


# with --load or --resume the network and its training come from the checkpoint: these
# flags would be ignored or contradict it, so they are refused
_RUN_FLAGS = ("preset", *PRESET_KEYS, "seed", "limit", "verify")
_DATA_FLAGS = ("dataset", "data_dir", "download", "sample")


def _presets_help() -> str:
    """The values each preset gives the flags it sets (the epilog of --help)."""
    lines = ["each preset's values (explicit flags override them):"]
    for name, values in PRESETS.items():
        full = {**{k: getattr(Config, k) for k in PRESET_KEYS}, **values}
        shown = " ".join(f"--{k.replace('_', '-')}="
                         f"{','.join(map(str, v)) if isinstance(v, tuple) else v}"
                         for k, v in full.items())
        lines += textwrap.wrap(shown, width=88, initial_indent=f"  {name:9}",
                               subsequent_indent=" " * 11, break_on_hyphens=False)
    lines.append("outputs go to --out (default runs/<preset>): metrics.json, model.npz, and "
                 "PNG plots with matplotlib")
    return "\n".join(lines)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 128,64, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 128,64, got {text!r}")
    return sizes


def _check_config(parser: argparse.ArgumentParser, cfg: Config, given: set[str]) -> None:
    """Refuse values that would crash later, or quietly do something other than asked."""
    for name in ("epochs", "log_every"):
        if getattr(cfg, name) < 1 and not (cfg.resume and name not in given):
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("batch_size", "batches_per_epoch", "limit", "augment", "verify"):
        if getattr(cfg, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be at least 0")
    if cfg.seed < 0:
        parser.error(f"--seed must be at least 0, got {cfg.seed} (numpy's generators take "
                     "non-negative seeds)")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        parser.error(f"--lr must be a positive number, got {cfg.lr}")
    for name in ("momentum", "weight_decay"):
        value = getattr(cfg, name)
        if not (math.isfinite(value) and value >= 0):
            parser.error(f"--{name.replace('_', '-')} must be a number >= 0, got {value}")
    if cfg.momentum and cfg.optimizer != "sgd":
        parser.error(f"--momentum is for --optimizer sgd; Adam keeps its own moving averages "
                     f"and would ignore --momentum {cfg.momentum}")
    if cfg.augment > MAX_SHIFT:
        parser.error(f"--augment must be at most {MAX_SHIFT} pixels, got {cfg.augment}: "
                     f"MNIST's digits fill the central 20x20 of the 28x28 image, so larger "
                     f"shifts cut them off (at 28 and more, whole images are blank)")
    if cfg.batches_per_epoch and cfg.batch_size == 0:
        whose = "" if "batch_size" in given else f", preset {cfg.preset}'s value"
        parser.error(f"--batches-per-epoch {cfg.batches_per_epoch} draws minibatches of "
                     f"--batch-size samples, but --batch-size is 0 (the whole training "
                     f"set{whose}); give --batch-size N, or leave out --batches-per-epoch")
    if cfg.out and not cfg.load:                 # --resume without --out: the run's folder
        out = Path(cfg.out)
        existing = next(p for p in (out, *out.parents) if p.exists() or p == Path(p.anchor))
        if not existing.is_dir():
            parser.error(f"--out {cfg.out}: {existing} is a file, not a folder; name a folder "
                         f"(it is created if missing)")
    if cfg.verify and cfg.preset == "default":
        parser.error("--verify compares .backward() with a document's hand-derived formulas: "
                     "use it with --preset zhang, fang or khan")
    if cfg.verify and cfg.loss == "mse" and cfg.activation != "sigmoid":
        parser.error("--verify with --loss mse follows document 002: it needs --activation "
                     "sigmoid")


def check_batches(cfg: Config, n: int) -> None:
    """--batches-per-epoch draws without replacement: it needs --batch-size <= n samples."""
    if cfg.batches_per_epoch and cfg.batch_size > n:
        print(f"error: --batches-per-epoch {cfg.batches_per_epoch} draws minibatches of "
              f"--batch-size {cfg.batch_size} samples, but there are only {n} training "
              f"samples; give --batch-size {n} or less, or leave out --batches-per-epoch",
              file=sys.stderr)
        raise SystemExit(2)


# ---- data -------------------------------------------------------------------------------


def load_data(cfg: Config) -> tr.Data:
    """The shipped sample (offline), or a full dataset when asked; see the module docstring."""
    return tr.load_data(cfg.dataset, cfg.data_dir, cfg.download, cfg.limit)


def as_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 rows (N, 784) scaled to [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)



def minibatches(cfg: Config, n: int, epoch: int, rng: np.random.Generator) -> list:
    """Sample indices of each step of an epoch: one full batch, document 002's random
    minibatches, or a pass over the data in the shuffled order of `DataLoader`."""
    if cfg.batches_per_epoch:    # document 002: np.random.choice(N, 32, replace=False)
        if cfg.batch_size == n:  # every sample each time (batch_inputs takes arange as is)
            return [np.arange(n)] * cfg.batches_per_epoch
        return [rng.choice(n, cfg.batch_size, replace=False)
                for _ in range(cfg.batches_per_epoch)]
    if cfg.batch_size == 0 or cfg.batch_size >= n:
        return [np.arange(n)]
    loader = datasets.DataLoader(np.arange(n), batch_size=cfg.batch_size, shuffle=True,
                                 seed=cfg.seed)
    loader.epoch = epoch
    return [idx for (idx,) in loader]


def batch_inputs(cfg: Config, data: tr.Data, x_all: np.ndarray | None, idx: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """The inputs of one step, in the network's layout (shifted when augmenting)."""
    if cfg.augment:
        return in_layout(cfg, as_inputs(tr.shift_images(data.x_train[idx], cfg.augment, rng)))
    if len(idx) == len(data.x_train):
        return x_all                                   # full batch: no copy
    return x_all[:, idx] if cfg.layout == "columns" else x_all[idx]



# ---- the documents' hand-derived gradients (--verify) ----------------------------------


def hand_gradients(cfg: Config, pairs, x: np.ndarray, labels: np.ndarray) -> list:
    """The documents' closed forms in float64 numpy, samples as columns (X is 784 x m).

    Cross-entropy (000/001): dZ_L = A_L - Y; dW_l = (1/m) dZ_l A_{l-1}^T; db_l = (1/m) sum
    of dZ_l over the samples; dZ_l = W_{l+1}^T dZ_{l+1} * g'(Z_l).
    MSE with sigmoids (002): delta_L = (a_L - y) * sigma'(z_L); delta_l = (W_{l+1}^T
    delta_{l+1}) * sigma'(z_l); dC/dW_l = delta_l a_{l-1}^T; dC/db_l = delta_l; each averaged
    over the minibatch (eq. 12).
    """
    ws = [w.data.astype(np.float64) for w, _ in pairs]
    bs = [b.data.astype(np.float64).reshape(-1, 1) for _, b in pairs]
    x = x if cfg.layout == "columns" else x.T                    # X: 784 x m
    m = x.shape[1]
    a, zs, acts = x.astype(np.float64), [], []
    acts.append(a)
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        z = w @ a + b
        zs.append(z)
        last = i == len(ws) - 1
        if last and cfg.loss == "cross-entropy":
            e = np.exp(z - z.max(axis=0, keepdims=True))
            a = e / e.sum(axis=0, keepdims=True)                 # A_L = softmax(Z_L)
        elif cfg.activation == "sigmoid" or last:
            a = 1.0 / (1.0 + np.exp(-z))
        else:
            a = np.maximum(z, 0.0)
        acts.append(a)
    y = np.eye(10)[labels].T                                      # one-hot, 10 x m

    def act_grad(i):                                              # g'(Z_i) of a hidden layer
        if cfg.activation == "sigmoid":
            return acts[i + 1] * (1.0 - acts[i + 1])
        return (zs[i] > 0).astype(np.float64)                     # ReLU'(0) = 0 (000, fn. 1)

    if cfg.loss == "cross-entropy":
        dz = acts[-1] - y                                         # 000-dZ2, 001-eq32
    else:
        # 002-eq16: sigma'(z_L) = a_L (1 - a_L). (Document 002's code listing computes
        # sigma'(a_L) instead, an erratum; .backward() agrees with the formula, not the code.)
        dz = (acts[-1] - y) * acts[-1] * (1.0 - acts[-1])
    grads = []
    for i in reversed(range(len(ws))):
        grads.append((dz @ acts[i].T / m, dz.sum(axis=1, keepdims=True) / m))  # dW, db
        if i:
            dz = (ws[i].T @ dz) * act_grad(i - 1)                 # 000-dZ1, 001-eq38, 002-eq22
    return grads[::-1]


def verify_difference(cfg: Config, model: nn.Module, x: np.ndarray, labels: np.ndarray):
    """Largest |hand-derived - .backward()| over every weight and bias, after backward."""
    pairs = weight_bias_pairs(model)
    worst = 0.0
    for (w, b), (dw, db) in zip(pairs, hand_gradients(cfg, pairs, x, labels), strict=True):
        worst = max(worst, float(np.abs(w.grad.data - dw).max()),
                    float(np.abs(b.grad.data.reshape(-1, 1) - db).max()))
    return worst


# ---- checkpoints ------------------------------------------------------------------------


def save_checkpoint(cfg: Config, model: nn.Module, data: tr.Data, out_dir: Path,
                    metrics: dict, position: dict) -> None:
    """model.npz and metrics.json, both atomic. The checkpoint holds the config to rebuild
    the network, the optimiser's state, and where the run is (epoch, step, schedule,
    random generator, metrics so far) for --resume."""
    last = metrics["epochs"][-1]
    tg.save(model, out_dir / "model.npz", optimizer=position["optimizer"], metadata={
        "config": asdict(cfg), "epoch": last["epoch"], "test_accuracy": last["test_accuracy"],
        "data": data.source, "step": position["step"], "rng": position["rng"],
        "schedule_step": position["schedule_step"], "metrics": metrics})
    tr.write_json(out_dir / "metrics.json", metrics)


def read_checkpoint(path: str) -> tuple[tg.nn.Checkpoint, Config]:
    """A checkpoint and the config it was trained with (the defaults for one without)."""
    ckpt = tr.load_checkpoint(path)
    saved = dict(ckpt.metadata.get("config", {}))
    if saved.pop("sample", False) or ckpt.metadata.get("data", {}).get("kind") == "sample":
        saved["dataset"] = "sample"       # written before --dataset sample existed
    known = {k: v for k, v in saved.items() if k in Config.__dataclass_fields__}
    if "hidden" in known:
        known["hidden"] = tuple(known["hidden"])
    return ckpt, Config(**known)


def describe_checkpoint(path: str, ckpt, saved: Config) -> str:
    """`loaded: PATH: default preset, 784-256-128-10 relu, epoch 20 of 20 (...)`."""
    meta = ckpt.metadata
    sizes = "-".join(map(str, (784, *saved.hidden, 10)))
    epoch = f", epoch {meta['epoch']} of {saved.epochs}" if "epoch" in meta else ""
    accuracy = (f" (test accuracy {meta['test_accuracy']:.4f} when saved)"
                if isinstance(meta.get("test_accuracy"), float) else "")
    return f"loaded: {path}: {saved.preset} preset, {sizes} {saved.activation}{epoch}{accuracy}"


def evaluate_checkpoint(cfg: Config) -> int:
    """--load: rebuild the saved network (its config is in the checkpoint) and test it on the
    data given on the command line, or else the data it was trained on."""
    ckpt, saved = read_checkpoint(cfg.load)
    print(describe_checkpoint(cfg.load, ckpt, saved))
    if cfg.dataset is None:                        # no data flag: what it was trained on
        cfg = replace(cfg, dataset=saved.dataset, data_dir=saved.data_dir)
    cfg = replace(saved, dataset=cfg.dataset, data_dir=cfg.data_dir, download=cfg.download,
                  limit=0, progress=cfg.progress)
    data = load_data(cfg)
    print(data.description)
    model = build_model(cfg, np.random.default_rng(0))
    try:
        model.load_state_dict(ckpt)
    except nn.StateDictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    acc, _ = evaluate(cfg, model, data.x_test, data.y_test)
    print(f"test accuracy: {acc:.4f}")
    return 0




if __name__ == "__main__":
    sys.exit(main())
