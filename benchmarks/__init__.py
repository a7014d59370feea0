"""Speed of tinygrad_edu against hand-written numpy backprop (and PyTorch eager, if installed).

Run `python -m benchmarks.run` from the repository's root; see docs/benchmarks.md. This
package imports nothing heavy at load time, so its entry points (`run.py`, `cnn.py`) can pin
BLAS threads with `pin_threads` before numpy loads.
"""

import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_threads(argv) -> int:
    """Set the BLAS thread variables from `--threads N` in argv (default 1) before numpy loads
    (they are read only at load time); return N."""
    threads = 1
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
        elif arg.startswith("--threads="):
            threads = int(arg.split("=", 1)[1])
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    return threads


def blas_kernels() -> list[dict] | None:
    """Which BLAS numpy runs, with its kernel ('architecture') and threads (threadpoolctl);
    None without threadpoolctl. Call it after numpy has loaded."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for info in threadpool_info() if info.get("user_api") == "blas"]


# Where the speed targets were set (issue 17): OpenBLAS's AVX-512 kernel, which most cloud
# machines pick. A ratio from another kernel is reported against them with a note.
TARGET_KERNEL = "SkylakeX"


def kernel_text(kernels: list[dict] | None) -> str:
    """`blas_kernels()` in words, for a report's `BLAS:` line."""
    if not kernels:
        return "BLAS kernel unknown (pip install threadpoolctl to see it)"
    return ", ".join(f"{k['internal_api']} {k.get('version') or ''} {k.get('architecture')} "
                     f"kernel, {k['num_threads']} thread(s)" for k in kernels)


def kernel_note(kernels: list[dict] | None) -> str | None:
    """A report's warning when the BLAS kernel is not the one the targets were set on."""
    used = [k.get("architecture") for k in kernels or []]
    if not used or TARGET_KERNEL in used:
        return None
    return (f"note: the targets were set on OpenBLAS's {TARGET_KERNEL} kernel; this run used "
            f"{', '.join(map(str, used))}, so its ratios are not comparable with them one to one")
