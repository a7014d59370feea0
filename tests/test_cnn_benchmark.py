"""benchmarks/cnn.py: its hand-written numpy floor computes what the library computes, and
the script runs end to end. No timing is asserted (speed lives in benchmarks/)."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import cnn
from tinygrad_edu import Tensor
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import assert_grads_close

ROOT = Path(__file__).resolve().parent.parent


def test_cnn_benchmark_numpy_floor_computes_the_gradients_tinygrad_edu_computes(monkeypatch):
    """Without dropout, the floor's hand-written backward gives every parameter the gradient
    `.backward()` gives the library's network (float32 rounding apart)."""
    monkeypatch.setattr(cnn, "P_DROP", 0.0)
    rng = np.random.default_rng(0)
    params, (x, labels) = cnn.init_params(rng), cnn.data(rng)
    floor, grads = cnn.NumpyCNN(params), {}
    floor._adam = grads.update                       # keep the gradients, skip the update
    floor.step(x, labels)
    model = cnn.tinygrad_trainer(params).model
    F.cross_entropy(model(Tensor(x)), labels).backward()
    named = dict(model.named_parameters())
    assert len(named) == len(grads) == len(cnn.TINYGRAD_NAMES)
    for name, key in cnn.TINYGRAD_NAMES.items():
        assert_grads_close(named[name].grad, grads[key], atol=1e-6, rtol=1e-4, name=key)


def test_cnn_benchmark_runs_and_reports_each_framework():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.cnn", "--rounds", "1", "--steps",
                           "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "tinygrad_edu:" in proc.stdout and "x numpy" in proc.stdout
    assert "BLAS: " in proc.stdout                   # the kernel the ratios were measured on
