"""Peak memory that one epoch of W1 training adds, measured in a fresh process per framework.

Run as `python -m benchmarks.memory FRAMEWORK SAMPLES`; prints one JSON object. `run.py`
starts one such process per framework, so no framework sees another's allocations.

Method. After importing the framework, building the parameters and the data set (the same
for every framework) and running one training step, the process collects garbage and reads
its resident set size (VmRSS in /proc/self/status) as the baseline, then resets the kernel's
high-water mark (writing 5 to /proc/self/clear_refs) and trains one epoch of W1 (784-128-10,
batch 128, SGD). The peak resident size during the epoch (VmHWM) minus the baseline is what training
added: activations, gradients, graph nodes, allocator slack. Where the high-water mark
cannot be reset, `ru_maxrss` (the peak since the process started) is used instead. A second
epoch runs under tracemalloc, which counts every byte Python and numpy allocate (not the
C++ allocations of PyTorch): its peak is exact and not subject to the allocator's page
granularity.

The first step is left out of the epoch's figure and reported on its own (`first_step_mib`):
what a framework loads on first use is paid once per process, not per epoch (scipy's BLAS,
22-28 MiB, for tinygrad_edu's SGD update with the fast extra; PyTorch's kernels).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import tracemalloc

import numpy as np

from . import numpy_baselines as nb
from .workloads import TRAINERS, _data

SIZES, BATCH, LR = (784, 128, 10), 128, 0.01


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def measure(framework: str, n_samples: int) -> dict:
    rng = np.random.default_rng(0)
    params = nb.init_params(SIZES, rng, "rows")
    train_step, convert = TRAINERS[framework](params, "rows", LR)
    x, labels = _data(rng, n_samples, "rows")

    def epoch():
        for i in range(0, n_samples, BATCH):
            train_step(*convert(x[i:i + BATCH], labels[i:i + BATCH]))

    gc.collect()
    before_kib = _status_kib("VmRSS")
    train_step(*convert(x[:BATCH], labels[:BATCH]))  # loads what the first use loads
    gc.collect()
    base_kib = _status_kib("VmRSS")
    resettable = base_kib is not None and _reset_peak()
    if not resettable:
        base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    epoch()
    peak_kib = (_status_kib("VmHWM") if resettable
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    gc.collect()

    tracemalloc.start()
    epoch()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "framework": framework,
        "samples": n_samples,
        "method": "VmHWM after clear_refs" if resettable else "ru_maxrss",
        "baseline_mib": base_kib / 1024,
        "peak_mib": peak_kib / 1024,
        "added_mib": (peak_kib - base_kib) / 1024,
        "first_step_mib": None if before_kib is None else (base_kib - before_kib) / 1024,
        "tracemalloc_peak_mib": None if framework == "torch" else traced_peak / 2**20,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
