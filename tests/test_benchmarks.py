"""The benchmark suite runs end to end (smoke mode) and its baselines compute the right thing.

No timing is asserted: speed lives in `benchmarks/`, as ratios measured in one run.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import numpy_baselines as nb
from tinygrad_edu import Tensor
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import assert_grads_close

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ["W1", "W2", "W3", "MICRO", "INFER", "EPOCH", "CNN"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--frameworks",
         "numpy,tinygrad_edu", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(out.read_text())


def test_smoke_report_has_every_workload_with_ratios_to_numpy(smoke_run):
    _, report = smoke_run
    assert report["mode"] == "smoke"
    assert list(report["timed"]) == WORKLOADS
    extras = {"W1": {"numpy-columns", "numpy[inplace]", "tinygrad_edu[linear]",
                     "tinygrad_edu[inplace]", "tinygrad_edu[inplace-alpha]",
                     "tinygrad_edu[composed]"},
              "W3": {"numpy-outer"},
              "MICRO": {"numpy-columns", "tinygrad_edu[linear]", "tinygrad_edu[composed]"}}
    for name, entry in report["timed"].items():
        extra = extras.get(name, set())
        assert set(entry["frameworks"]) == {"numpy", "tinygrad_edu"} | extra, name
        assert entry["frameworks"]["numpy"]["median_ratio"] == 1.0
        for r in entry["frameworks"].values():
            assert r["median_s"] > 0 and math.isfinite(r["median_ratio"])
            assert len(r["times_s"]) == entry["rounds"]


def test_smoke_report_has_chain_memory_gc_and_machine_facts(smoke_run):
    _, report = smoke_run
    rows = report["chain"]["tinygrad_edu"]
    assert [row["n_ops"] for row in rows] == [1_000, 5_000]
    assert all(row["grad_correct"] and row["backward_us_per_node"] > 0 for row in rows)
    assert set(report["memory"]) == {"numpy", "tinygrad_edu"}
    assert report["memory"]["numpy"]["added_over_numpy_mib"] == 0
    assert report["gc_cycles_per_step"] == 0          # graph nodes form no reference cycles
    facts = report["machine"]
    assert facts["nproc"] >= 1 and facts["threads"] == 1 and facts["clock"]


def test_smoke_prints_the_table(smoke_run):
    stdout, report = smoke_run
    assert "| W1 | tinygrad_edu |" in stdout and "| deep chain |" in stdout
    assert report["table"] in stdout


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_numpy_baseline_grads_match_autograd(layout):
    rng = np.random.default_rng(0)
    sizes, m = (6, 5, 4, 3), 7
    params = [p.astype(np.float64) for p in nb.init_params(sizes, rng, layout)]
    x = rng.normal(size=(m, 6) if layout == "rows" else (6, m))
    labels = rng.integers(0, 3, size=m)
    model = nb.MLPRows(params) if layout == "rows" else nb.MLPColumns(params)
    loss, grads = model.loss_and_grads(x, labels)

    ts = [Tensor(p, requires_grad=True) for p in params]
    a = Tensor(x)
    for i in range(3):
        a = a @ ts[2 * i] + ts[2 * i + 1] if layout == "rows" else ts[2 * i] @ a + ts[2 * i + 1]
        a = a.relu() if i < 2 else a
    expected = F.cross_entropy(a if layout == "rows" else a.T, labels)
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    for i, (g, t) in enumerate(zip(grads, ts, strict=True)):
        assert_grads_close(g, t.grad, name=f"baseline gradient {i}")
    np.testing.assert_allclose(model.forward(x), a.data, rtol=1e-12)


def test_outer_product_baseline_gives_the_same_gradients_for_one_sample():
    rng = np.random.default_rng(1)
    params = nb.init_params((6, 5, 3), rng, "columns")
    x, labels = rng.standard_normal((6, 1), dtype=np.float32), np.array([2])
    loss, grads = nb.MLPColumns(params).loss_and_grads(x, labels)
    loss_outer, grads_outer = nb.MLPColumnsOuter(params).loss_and_grads(x, labels)
    assert loss_outer == loss
    for g, g_outer in zip(grads, grads_outer, strict=True):
        np.testing.assert_array_equal(g_outer, g)


def test_w3_reports_the_outer_product_baseline(smoke_run):
    stdout, report = smoke_run
    assert "numpy-outer" in report["timed"]["W3"]["frameworks"]
    assert "numpy-outer" not in report["timed"]["W1"]["frameworks"]
    assert "| W3 | numpy-outer |" in stdout


def test_speed_user_paths_compute_the_same_step(smoke_run):
    """Each way of writing the W1 step trains the same network to the same loss."""
    from benchmarks import workloads
    rng = np.random.default_rng(0)
    params = nb.init_params((6, 5, 3), rng, "rows")
    x, labels = rng.standard_normal((4, 6)).astype(np.float32), np.array([0, 2, 1, 2])
    losses = {}
    for name, trainer in {"tinygrad_edu": workloads._tinygrad_trainer,
                          **workloads.VARIANTS}.items():
        step, convert = trainer([p.copy() for p in params], "rows", 0.1)
        inputs = convert(x, labels)
        losses[name] = [float(step(*inputs).item()) for _ in range(3)]
    for name, values in losses.items():
        np.testing.assert_allclose(values, losses["tinygrad_edu"], rtol=1e-5, err_msg=name)


def test_numpy_baseline_with_the_update_as_written_is_the_same_step():
    """numpy[inplace] (`w -= lr * dw`) trains as the numpy baseline (`dw *= lr; w -= dw`)."""
    rng = np.random.default_rng(0)
    params = nb.init_params((6, 5, 3), rng, "rows")
    x, labels = rng.standard_normal((4, 6)).astype(np.float32), np.array([0, 2, 1, 2])
    trained = {}
    for update in (nb.SGD, nb.SGDAsWritten):
        ps = [p.copy() for p in params]
        model, step = nb.MLPRows(ps), update(ps, 0.1)
        losses = [model.step(x, labels, step) for _ in range(3)]
        trained[update] = losses, ps
    (losses, ps), (losses_written, ps_written) = trained.values()
    np.testing.assert_allclose(losses_written, losses, rtol=1e-6)
    for p, q in zip(ps_written, ps, strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7)
    assert not np.allclose(ps[0], params[0])      # the steps did move the weights


def test_speed_report_names_the_blas_kernel_and_both_numpy_layouts(smoke_run):
    stdout, report = smoke_run
    assert stdout.splitlines()[1].startswith("BLAS: ")
    ratios = report["timed"]["W1"]["frameworks"]["tinygrad_edu"]["median_ratio_to"]
    assert set(ratios) == {"numpy", "numpy-columns", "numpy[inplace]"}
    targets = report["timed"]["W1"]["variant_targets"]
    assert targets == {"tinygrad_edu[linear]": 1.10, "tinygrad_edu[inplace]": 1.10,
                       "tinygrad_edu[inplace-alpha]": None, "tinygrad_edu[composed]": 1.20}
