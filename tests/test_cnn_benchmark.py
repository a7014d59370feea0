"""benchmarks/cnn.py: its hand-written numpy floor computes what the library computes, and
the script runs end to end. No timing is asserted (speed lives in benchmarks/)."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import cnn

ROOT = Path(__file__).resolve().parent.parent


def test_cnn_benchmark_numpy_floor_trains_like_tinygrad_edu(monkeypatch):
    """Without dropout the two give the same losses step after step (Adam moves both), so
    the floor's hand-written backward is the network's true gradient."""
    monkeypatch.setattr(cnn, "P_DROP", 0.0)
    rng = np.random.default_rng(0)
    params, (x, labels) = cnn.init_params(rng), cnn.data(rng)
    floor, ours = cnn.numpy_trainer(params), cnn.tinygrad_trainer(params)
    losses = [(float(floor(x, labels)), ours(x, labels).item()) for _ in range(3)]
    np.testing.assert_allclose(*zip(*losses, strict=True), rtol=1e-4)
    assert losses[-1][0] < losses[0][0]


def test_cnn_benchmark_runs_and_reports_each_framework():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.cnn", "--rounds", "1", "--steps",
                           "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "tinygrad_edu:" in proc.stdout and "x numpy" in proc.stdout
