"""benchmarks/cnn.py --memory: tracemalloc cannot see PyTorch's C++ allocations, so torch's
peak is reported as n/a, never as a measured 0.0 MiB."""

from benchmarks import cnn


def test_cnn_benchmark_memory_reports_torch_as_not_measured(monkeypatch, capsys):
    measured = []
    monkeypatch.setattr(cnn, "available", lambda: ["numpy", "tinygrad_edu", "torch"])
    monkeypatch.setattr(cnn, "time_steps", lambda frameworks, rounds, steps: {
        fw: {"median_s": 0.01, "median_ratio": 1.0} for fw in frameworks})
    monkeypatch.setattr(cnn, "epoch_peak_bytes", lambda fw: measured.append(fw) or 3 * 2**20)
    result = cnn.main(["--memory"])
    out = capsys.readouterr().out
    assert measured == ["numpy", "tinygrad_edu"]
    assert result["torch"]["epoch_peak_bytes"] is None
    assert result["numpy"]["epoch_peak_bytes"] == 3 * 2**20
    assert "torch: one epoch adds n/a (tracemalloc cannot see PyTorch's C++ allocations)" in out
    assert "numpy: one epoch adds 3.0 MiB at peak (tracemalloc)" in out
    assert "0.0 MiB" not in out
