"""Run the benchmarks: `python -m benchmarks.run [--quick | --smoke] [--json PATH]`.

Every timed workload runs in this one process: after a warm-up, each round times a block
of steps of every framework in turn (the order rotates from round to round), and each
framework's time is divided by numpy's time *in the same round*. The report gives the
median time per step and the median of those per-round ratios, so a machine that slows
down or speeds up during the run moves all frameworks together and the ratios stay fair.
Then come the deep-chain scaling runs, and the memory runs (one fresh process per
framework, see `benchmarks/memory.py`).

BLAS and OpenMP threads are pinned to `--threads` (default 1) for every framework, through
the environment variables read when numpy and PyTorch load, and `torch.set_num_threads`.
Options other than the mode: `--only W1,MICRO,CHAIN,MEMORY` picks sections, `--rounds N`
overrides the number of rounds.
"""

from __future__ import annotations

import os
import sys

from . import THREAD_VARIABLES, blas_kernels, kernel_note, kernel_text, pin_threads  # noqa: E402

if __name__ == "__main__":
    pin_threads(sys.argv)

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from . import chain  # noqa: E402
from .workloads import Workload, timed_workloads, torch_available  # noqa: E402

FRAMEWORKS = ("numpy", "tinygrad_edu", "torch")

MODES = {
    #        rounds, seconds per block, warm-up seconds, rounds of EPOCH
    "full": {"rounds": 15, "block": 0.25, "warmup": 0.5, "epoch_rounds": 5,
             "chain": [(10_000, 5), (100_000, 3), (1_000_000, 2)], "memory_samples": 60_000},
    "quick": {"rounds": 7, "block": 0.1, "warmup": 0.2, "epoch_rounds": 3,
              "chain": [(10_000, 3), (100_000, 1), (1_000_000, 1)], "memory_samples": 60_000},
    "smoke": {"rounds": 2, "block": 0.0, "warmup": 0.0, "epoch_rounds": 1,
              "chain": [(1_000, 1), (5_000, 1)], "memory_samples": 512},
}


# ---- timing ----------------------------------------------------------------------------

def _time_block(step, count: int, clock) -> float:
    """Seconds per step over `count` consecutive steps."""
    start = clock()
    for _ in range(count):
        step()
    return (clock() - start) / count


def time_workload(workload: Workload, frameworks, rounds: int, block: float,
                  warmup: float, clock=time.perf_counter) -> dict:
    """Interleaved rounds; returns per-framework step times and per-round ratios to numpy.

    Every round builds each framework's step afresh (new parameter and data arrays): where
    big arrays land in memory changes OpenBLAS's speed on them by several percent, and a
    fresh build each round keeps one lucky or unlucky placement from deciding a whole run.
    """
    variants = list(workload.variant_targets) if "tinygrad_edu" in frameworks else []
    frameworks = list(frameworks) + variants + list(workload.extra_baselines)
    warm = {}
    for fw in frameworks:                      # warm-up: caches, allocator, first-call costs
        step = workload.factories[fw]()
        count, start = 0, time.perf_counter()
        while count < 2 or time.perf_counter() - start < warmup:
            step()
            count += 1
        warm[fw] = (time.perf_counter() - start) / count
    step = None
    per_block = workload.steps_per_round or max(1, round(block / warm["numpy"]))
    times: dict[str, list[float]] = {fw: [] for fw in frameworks}
    order = list(frameworks)
    for r in range(rounds):
        shift = r % len(order)
        for fw in order[shift:] + order[:shift]:
            step = None
            gc.collect()                       # nobody pays for another's garbage
            step = workload.factories[fw]()
            if not workload.steps_per_round:   # (an EPOCH step is warm after its first batch)
                step()
                step()
            gc.collect()
            times[fw].append(_time_block(step, per_block, clock))
    result = {"steps_per_block": per_block, "rounds": rounds, "frameworks": {}}
    baselines = ["numpy", *workload.extra_baselines]
    for fw in frameworks:
        ratios = [t / base for t, base in zip(times[fw], times["numpy"], strict=True)]
        result["frameworks"][fw] = {
            "median_s": statistics.median(times[fw]),
            "min_s": min(times[fw]),
            "median_ratio": statistics.median(ratios),
            "ratio_quartiles": _quartiles(ratios),
            # the same round's ratio to each numpy layout: a layout can be faster on one BLAS
            "median_ratio_to": {b: statistics.median(
                t / base for t, base in zip(times[fw], times[b], strict=True))
                for b in baselines},
            "times_s": times[fw],
        }
    return result


def _quartiles(values) -> list[float]:
    if len(values) < 2:
        return [values[0], values[0]]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return [q[0], q[2]]


def gc_cycles_per_step(workload: Workload, steps: int = 20) -> float:
    """Objects the cycle collector finds per tinygrad_edu step (0 when nodes form no cycles)."""
    step = workload.factories["tinygrad_edu"]()
    step()
    gc.collect()
    gc.disable()
    try:
        for _ in range(steps):
            step()
        found = gc.collect()
    finally:
        gc.enable()
    return found / steps


def run_chain(sizes, frameworks, clock=time.perf_counter) -> dict:
    result = {}
    for fw in frameworks:
        if fw not in chain.RUNNERS:
            continue
        rows = []
        for n_ops, reps in sizes:
            runs = [chain.RUNNERS[fw](n_ops, clock) for _ in range(reps)]
            forward = statistics.median(r[0] for r in runs)
            backward = statistics.median(r[1] for r in runs)
            grad_ok = all(np.isclose(r[2], chain.expected_grad(n_ops), rtol=1e-9) for r in runs)
            rows.append({"n_ops": n_ops, "reps": reps, "forward_us_per_node": forward / n_ops
                         * 1e6, "backward_us_per_node": backward / n_ops * 1e6,
                         "grad_correct": bool(grad_ok)})
        first = rows[0]["backward_us_per_node"]
        for row in rows:
            row["backward_vs_smallest"] = row["backward_us_per_node"] / first
        result[fw] = rows
    return result


def run_memory(samples: int, frameworks, threads: int) -> dict:
    result = {}
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    root = Path(__file__).resolve().parent.parent
    for fw in frameworks:
        out = subprocess.run([sys.executable, "-m", "benchmarks.memory", fw, str(samples)],
                             cwd=root, env=env, capture_output=True, text=True, check=True)
        result[fw] = json.loads(out.stdout)
    base = result["numpy"]["added_mib"]
    for fw in frameworks:
        result[fw]["added_over_numpy_mib"] = result[fw]["added_mib"] - base
    return result


# ---- machine facts ---------------------------------------------------------------------

def _update_route() -> str:
    """How optim.SGD (and sub_ with alpha) computes w -= lr * g here: BLAS's axpy (scipy
    installed) or numpy."""
    from tinygrad_edu import inplace

    if inplace._blas_axpy():
        import scipy

        return f"BLAS axpy (scipy {scipy.__version__})"
    return "numpy, lr * g then w -= it (pip install -e '.[fast]' adds scipy: one BLAS pass)"


def machine_facts(threads: int) -> dict:
    facts = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "numpy": np.__version__,
        "threads": threads,
        "thread_variables": {name: os.environ.get(name) for name in THREAD_VARIABLES},
    }
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        facts["blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration")}
    except Exception:  # older numpy: no dict mode
        facts["blas"] = None
    facts["sgd_update"] = _update_route()  # (first: scipy's own BLAS is then listed too)
    facts["blas_kernels"] = blas_kernels()
    if torch_available():
        import torch

        torch.set_num_threads(threads)
        facts["torch"] = torch.__version__
        facts["torch_threads"] = torch.get_num_threads()
    return facts


# ---- report ----------------------------------------------------------------------------

def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def format_report(report: dict) -> str:
    lines = []
    facts = report["machine"]
    lines.append(f"tinygrad_edu benchmarks ({report['mode']}), {facts['date']}, "
                 f"{facts['nproc']} cores, load {facts['load_average'][0]:.2f}, "
                 f"threads {facts['threads']}, clock: {facts['clock']}, numpy {facts['numpy']}"
                 + (f", torch {facts['torch']}" if "torch" in facts else ""))
    lines.append(f"BLAS: {kernel_text(facts.get('blas_kernels'))}")
    if "sgd_update" in facts:  # (reports written before it was recorded have none)
        lines.append(f"SGD update: {facts['sgd_update']}")
    note = kernel_note(facts.get("blas_kernels"))
    if note:
        lines.append(note)
    lines.append("")
    if report["timed"]:
        lines.append("| workload | framework | time/step (median) | ratio to numpy (median) "
                     "| ratio IQR | ratio to the other numpy baselines | target |")
        lines.append("|---|---|---|---|---|---|---|")
        for name, entry in report["timed"].items():
            targets = {"tinygrad_edu": entry["target"], **entry.get("variant_targets", {})}
            for fw, r in entry["frameworks"].items():
                target = ""
                if targets.get(fw) is not None:
                    met = "met" if r["median_ratio"] <= targets[fw] else "NOT met"
                    target = f"<= {targets[fw]:.2f} ({met})"
                q1, q3 = r["ratio_quartiles"]
                other = "; ".join(f"{r['median_ratio_to'][b]:.3f} ({b})"
                                  for b in r.get("median_ratio_to", {}) if b != "numpy")
                lines.append(f"| {name} | {fw} | {_fmt_time(r['median_s'])} | "
                             f"{r['median_ratio']:.3f} | {q1:.3f}-{q3:.3f} | {other} | "
                             f"{target} |")
        lines.append("")
        lines.append("Workloads: " + "; ".join(f"{n}: {e['description']} "
                                               f"({e['rounds']} rounds x {e['steps_per_block']} "
                                               f"steps)" for n, e in report["timed"].items()))
        lines.append("")
    if report.get("gc_cycles_per_step") is not None:
        lines.append(f"Objects left for the cycle collector per tinygrad_edu W1 step: "
                     f"{report['gc_cycles_per_step']:g}")
        lines.append("")
    if report.get("chain"):
        lines.append("| deep chain | framework | forward us/node | backward us/node "
                     "| backward per node vs smallest | dy/dx correct |")
        lines.append("|---|---|---|---|---|---|")
        for fw, rows in report["chain"].items():
            for row in rows:
                lines.append(f"| {row['n_ops']:,} ops | {fw} | {row['forward_us_per_node']:.2f} | "
                             f"{row['backward_us_per_node']:.2f} | "
                             f"{row['backward_vs_smallest']:.2f} | {row['grad_correct']} |")
        lines.append("")
    if report.get("memory"):
        lines.append("| memory: one W1 epoch | framework | peak RSS added | over numpy "
                     "| tracemalloc peak | first step (one-time loads) |")
        lines.append("|---|---|---|---|---|---|")
        for fw, m in report["memory"].items():
            traced = (f"{m['tracemalloc_peak_mib']:.2f} MiB"
                      if m["tracemalloc_peak_mib"] is not None else "n/a")
            first = m.get("first_step_mib")  # (reports written before it was recorded)
            first = "n/a" if first is None else f"{first:.2f} MiB"
            lines.append(f"| {m['samples']:,} samples | {fw} | {m['added_mib']:.2f} MiB | "
                         f"{m['added_over_numpy_mib']:+.2f} MiB | {traced} | {first} |")
        lines.append("")
    for note in report["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer rounds (about 2 minutes)")
    mode.add_argument("--smoke", action="store_true",
                      help="tiny sizes, 2 rounds: checks that everything runs (seconds)")
    parser.add_argument("--json", help="where to write the JSON report (default: "
                        "benchmarks/results/latest.json for the full run, quick.json and "
                        "smoke.json beside it for the others)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP/torch threads for every framework (default 1)")
    parser.add_argument("--clock", choices=("cpu", "wall"),
                        help="time steps by the process's CPU time (default with --threads 1: "
                        "other processes on a shared machine then cost nothing) or wall time")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--only", help="comma-separated sections: W1,W2,W3,MICRO,INFER,EPOCH,"
                        "CNN,CHAIN,MEMORY")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help="comma-separated frameworks (numpy is always included)")
    args = parser.parse_args(argv)
    mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    settings = MODES[mode_name]
    rounds = args.rounds or settings["rounds"]
    only = set(args.only.upper().split(",")) if args.only else None
    notes = []
    frameworks = ["numpy"] + [fw for fw in args.frameworks.split(",")
                              if fw in FRAMEWORKS and fw != "numpy"]
    if "torch" in frameworks and not torch_available():
        frameworks.remove("torch")
        notes.append("PyTorch is not installed: its columns are skipped "
                     "(pip install -e '.[bench]' adds it)")
    clock_name = args.clock or ("cpu" if args.threads == 1 else "wall")
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    facts = machine_facts(args.threads)
    facts["clock"] = ("process CPU time (time.process_time)" if clock_name == "cpu"
                      else "wall time (time.perf_counter)")
    report = {"mode": mode_name, "machine": facts, "frameworks": frameworks, "timed": {},
              "notes": notes}
    workloads = timed_workloads("smoke" if args.smoke else "full")
    for workload in workloads:
        if only and workload.name not in only:
            continue
        n = min(rounds, settings["epoch_rounds"]) if workload.steps_per_round else rounds
        print(f"timing {workload.name} ...", file=sys.stderr, flush=True)
        entry = time_workload(workload, frameworks, n, settings["block"], settings["warmup"],
                              clock)
        entry.update(description=workload.description, target=workload.target,
                     variant_targets=workload.variant_targets, info=workload.info)
        report["timed"][workload.name] = entry
        if workload.name == "W1":
            report["gc_cycles_per_step"] = gc_cycles_per_step(workload)
    if not only or "CHAIN" in only:
        print("timing the deep chain ...", file=sys.stderr, flush=True)
        report["chain"] = run_chain(settings["chain"], frameworks, clock)
    if not only or "MEMORY" in only:
        print("measuring memory ...", file=sys.stderr, flush=True)
        report["memory"] = run_memory(settings["memory_samples"], frameworks, args.threads)
    facts["load_average_end"] = list(os.getloadavg())
    text = format_report(report)
    print(text)
    report["table"] = text
    default = {"full": "latest", "quick": "quick", "smoke": "smoke"}[mode_name]
    path = Path(args.json or Path(__file__).parent / "results" / f"{default}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {path}", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
