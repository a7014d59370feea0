"""Speed of tinygrad_edu against hand-written numpy backprop (and PyTorch eager, if installed).

Run `python -m benchmarks.run` from the repository's root; see docs/benchmarks.md. This
package imports nothing at load time, so `run.py` can pin BLAS threads before numpy loads.
"""
