"""Running an example script as a user does (a subprocess, the repository on the path, no
plot windows), or importing it to call its functions in-process; shared by
tests/test_examples.py and tests/test_cnn_example.py."""

import importlib.util
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


def import_script(script: Path, monkeypatch):
    """The script as a module, to call parse_args and main in-process. Its import sets BLAS
    thread counts with setdefault: they are set here first, so the test process keeps its
    own."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))
    spec = importlib.util.spec_from_file_location(f"{script.stem}_example", script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def last_accuracy(stdout: str) -> float:
    """The number on the last line, which must read `test accuracy: 0.XXXX`."""
    last = stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"test accuracy: (0\.\d{4}|1\.0000)", last)
    assert match, f"last line is {last!r}"
    return float(match.group(1))
