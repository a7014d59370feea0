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
