"""Ratios to numpy of several versions of the engine, measured together in one process.

    python -m benchmarks.history REV [REV ...] [--only W1,MICRO] [--rounds N]

Each REV (a git commit, branch or tag of this repository; `WORKTREE` for the files on disk)
is exported with `git archive` into a temporary folder as a package of its own name, so all
versions load side by side; every round then times the numpy baseline and each version in
turn (CPU time, one BLAS thread), and the report gives each version's median per-round
ratio to numpy. This is how `docs/benchmarks.md` measures what each optimisation changed:
figures from one run, on one machine state, rather than from runs hours apart.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # before numpy loads: the same single BLAS thread for everyone
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from . import numpy_baselines as nb  # noqa: E402
from .workloads import TRAINERS, _data, autograd_step  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {  # sizes, batch, layout: the timed MLP workloads of benchmarks.workloads
    "W1": ((784, 128, 10), 128, "rows"),
    "W2": ((784, 10, 10), 10_000, "columns"),
    "W3": ((784, 128, 64, 10), 1, "columns"),
    "MICRO": ((16, 16, 10), 8, "rows"),
}


def export(rev: str, folder: Path, index: int) -> str:
    """Put the package of `rev` in `folder` as `tinygrad_v{index}`; returns that name."""
    name = f"tinygrad_v{index}"
    if rev == "WORKTREE":
        shutil.copytree(ROOT / "tinygrad_edu", folder / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(["git", "archive", rev, "tinygrad_edu"], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        (folder / "tinygrad_edu").rename(folder / name)
    return name


def version_step(package: str, sizes, batch: int, layout: str):
    """One SGD step of the MLP, written as in benchmarks.workloads, with `package`.

    Builds fresh parameters and data: `measure` calls it again every round."""
    pkg = importlib.import_module(package)
    F = importlib.import_module(package + ".nn.functional")
    optim = importlib.import_module(package + ".optim")
    rng = np.random.default_rng(0)
    params = nb.init_params(sizes, rng, layout)
    x, labels = _data(rng, batch, layout, sizes)
    ps = [pkg.Tensor(p.copy(), requires_grad=True) for p in params]
    train_step = autograd_step(ps, optim.SGD(ps, lr=0.01), F, layout)
    x = pkg.Tensor(x)
    return lambda: train_step(x, labels)


def numpy_step(sizes, batch: int, layout: str):
    rng = np.random.default_rng(0)
    params = nb.init_params(sizes, rng, layout)
    train_step, convert = TRAINERS["numpy"](params, layout, 0.01)
    x, labels = convert(*_data(rng, batch, layout, sizes))
    return lambda: train_step(x, labels)


def measure(builders: dict, rounds: int, block: float = 0.2) -> dict:
    """Median per-round ratio to numpy; every round builds each step afresh (see run.py)."""
    step = builders["numpy"]()
    for _ in range(3):
        step()
    start = time.process_time()
    step()
    count = max(1, round(block / max(time.process_time() - start, 1e-6)))
    times = {k: [] for k in builders}
    order = list(builders)
    for r in range(rounds):
        for k in order[r % len(order):] + order[:r % len(order)]:
            step = None
            gc.collect()
            step = builders[k]()
            for _ in range(3):
                step()
            gc.collect()
            start = time.process_time()
            for _ in range(count):
                step()
            times[k].append((time.process_time() - start) / count)
    return {k: statistics.median(t / base for t, base in zip(v, times["numpy"], strict=True))
            for k, v in times.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.history", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revs", nargs="+", help="git revisions, or WORKTREE")
    parser.add_argument("--only", default="W1,W2,W3,MICRO")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        names = [export(rev, Path(tmp), i) for i, rev in enumerate(args.revs)]
        sys.path.insert(0, tmp)
        print("| workload | " + " | ".join(args.revs) + " |")
        print("|---|" + "---|" * len(args.revs))
        for workload in args.only.split(","):
            config = CONFIGS[workload]
            builders = {"numpy": partial(numpy_step, *config)}
            builders.update({rev: partial(version_step, name, *config)
                             for rev, name in zip(args.revs, names, strict=True)})
            ratios = measure(builders, args.rounds)
            print(f"| {workload} | " + " | ".join(f"{ratios[rev]:.3f}" for rev in args.revs)
                  + " |", flush=True)


if __name__ == "__main__":
    main()
