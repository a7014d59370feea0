"""Running an example script as a user does (a subprocess, the repository on the path, no
plot windows), shared by tests/test_examples.py and tests/test_cnn_example.py."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}


def run_script(script: Path, *args, cwd, timeout=120, check=True) -> subprocess.CompletedProcess:
    """Run `script` with `args` in `cwd`; with `check`, a non-zero exit fails, showing both
    streams."""
    proc = subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n"
                             f"stderr:\n{proc.stderr}")
    return proc


def last_accuracy(stdout: str) -> float:
    """The number on the last line, which must read `test accuracy: 0.XXXX`."""
    last = stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"test accuracy: (0\.\d{4}|1\.0000)", last)
    assert match, f"last line is {last!r}"
    return float(match.group(1))
