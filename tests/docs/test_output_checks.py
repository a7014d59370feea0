"""What the docs print does not depend on the BLAS kernel, the CPU or the summation order.

`test_docs.output_matches` compares the numbers of a page's printed output with a tolerance,
and the tutorial runs again in a child process under a second OpenBLAS kernel, so output
that depends on the kernel fails here rather than on a user's machine (issue 16, item 1).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.docs.test_docs import ROOT, output_matches, run_page
from tinygrad_edu import viz

# --- numbers are compared with a tolerance ---------------------------------------------------


@pytest.mark.parametrize(("page", "printed"), [
    # the tutorial's old block 3: Haswell's rounding on the page, SkylakeX's printed
    ("dW1 1.6653345369377348e-16", "dW1 1.1102230246251565e-16"),
    ("analytic -10.865743689487386, numeric -0.5153173823213564 (atol ..., rtol 0.0001)",
     "analytic -10.865743689487379, numeric -0.51531738232136 (atol 5.8e-08, rtol 0.0001)"),
    ("loss 0.645", "loss 0.6449999809265137"),         # fewer digits: the rounded value
    ("Tensor([0.1192, 0.5   , 0.9526], dtype=float32)",
     "Tensor([0.1192, 0.5   , 0.9526], dtype=float32)"),
    ("step 1 ...\nloss 1.0 ... 2.0", "step 1 of 3\nloss 1.0000000001 and   2.0000000003"),
    ("test accuracy 0.9...", "test accuracy 0.953"),
])
def test_first_01_numbers_match_within_rounding(page, printed):
    assert output_matches(page, printed)


@pytest.mark.parametrize(("page", "printed"), [
    ("test accuracy 0.9630", "test accuracy 0.9620"),    # a digit that really differs
    ("loss 0.645", "loss 0.6461"),
    ("Tensor(-3., dtype=float32)", "Tensor(-2., dtype=float32)"),
    ("(3,)", "(4,)"),                                     # integers compare exactly
    ("analytic 0.0", "analytic -0.0"),                    # and the sign of a zero
    ("test accuracy 0.9...", "test accuracy 0.899"),     # `0.9...` is a prefix, not 0.9
    ("loss 1.0 ... 2.0", "loss 1.0 then 2.1"),
    ("dW1 1.6653345369377348e-16", "dW2 1.1102230246251565e-16"),   # text still counts
])
def test_first_01_numbers_that_differ_do_not_match(page, printed):
    assert not output_matches(page, printed)


@given(st.floats(-1e6, 1e6), st.floats(-1e-9, 1e-9))
def test_first_01_a_repr_matches_the_same_number_rounded_differently(x, relative_change):
    assert output_matches(f"value {x!r}", f"value {x * (1 + relative_change)!r}")


@given(st.floats(-100, 100))
def test_first_01_a_rounded_number_on_the_page_matches_the_full_repr(x):
    assert output_matches(f"loss {x:.4f}", f"loss {x!r}")
    assert not output_matches(f"loss {x:.4f}", f"loss {x + 0.001:.4f}")


# --- a page that needs Graphviz's `dot` ------------------------------------------------------

RENDER_PAGE = """\
```python
from tinygrad_edu import Tensor, viz
viz.render(Tensor(2.0, requires_grad=True) * 3, "e.svg")
```
"""


@pytest.fixture
def page_without_dot(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text(RENDER_PAGE)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))        # graphviz can no longer find `dot`
    monkeypatch.chdir(tmp_path)
    return page


def test_first_01_a_page_that_needs_dot_is_skipped_without_it_outside_ci(page_without_dot,
                                                                        monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"page.md: block 0 needs .*`dot`"):
        run_page(page_without_dot)


def test_first_01_a_page_that_needs_dot_fails_without_it_in_ci(page_without_dot, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(AssertionError, match="page.md: code block 0 failed") as info:
        run_page(page_without_dot)
    assert isinstance(info.value.__cause__, viz.GraphvizNotFoundError)


# --- a second OpenBLAS kernel ----------------------------------------------------------------

# For the kernel OpenBLAS picks on an x86-64 CPU, an older one the same CPU runs too.
SECOND_KERNEL = {"skylakex": "Haswell", "cooperlake": "Haswell", "sapphirerapids": "Haswell",
                 "haswell": "SandyBridge", "zen": "SandyBridge"}

# The child prints the kernels its numpy runs (first line), then runs the page as the docs
# test does; a page that does not match exits with the AssertionError on stderr.
CHILD = """\
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import numpy, threadpoolctl
print(json.dumps([i["architecture"] for i in threadpoolctl.threadpool_info()
                  if i.get("internal_api") == "openblas"]), flush=True)
from tests.docs.test_docs import run_page
run_page(Path(sys.argv[2]))
"""


def _openblas_kernels() -> list[str]:
    try:
        import threadpoolctl
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("threadpoolctl is not installed (pip install -e '.[dev]')")
    return [i["architecture"] for i in threadpoolctl.threadpool_info()
            if i.get("internal_api") == "openblas"]


def _run_under_second_kernel(page, tmp_path) -> tuple[str, str, subprocess.CompletedProcess]:
    """Run `page` in a child process whose OpenBLAS uses another kernel than this process:
    (this process's kernel, the child's, the finished child). Skips where that cannot be."""
    kernels = _openblas_kernels()
    if not kernels:
        pytest.skip("numpy does not use OpenBLAS here, so there is no second kernel to try")
    if "OPENBLAS_CORETYPE" in os.environ:
        pytest.skip(f"this machine sets OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}; "
                    "the test does not override it")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip(f"no second OpenBLAS kernel is known for {platform.machine()}")
    parent = kernels[0]
    second = SECOND_KERNEL.get(parent.lower())
    if second is None:
        pytest.skip(f"no second OpenBLAS kernel is known for this CPU's {parent}")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(page)], cwd=tmp_path,
                          env={**os.environ, "OPENBLAS_CORETYPE": second},
                          capture_output=True, text=True, timeout=300)
    assert proc.stdout, f"the child printed nothing:\n{proc.stderr}"
    child = json.loads(proc.stdout.splitlines()[0])
    assert child and parent not in child, (
        f"OPENBLAS_CORETYPE={second} did not change the kernel: {parent} here, {child} there")
    return parent, child[0], proc


def test_first_01_the_tutorial_prints_what_it_shows_under_a_second_openblas_kernel(tmp_path):
    if shutil.which("dot") is None and not os.environ.get("CI"):
        pytest.skip("docs/tutorial.md draws with Graphviz's `dot`, which is not installed")
    parent, child, proc = _run_under_second_kernel(ROOT / "docs" / "tutorial.md", tmp_path)
    assert proc.returncode == 0, (
        f"docs/tutorial.md passes with OpenBLAS's {parent} kernel but not with {child}:\n"
        f"{proc.stderr}")


def test_first_01_output_that_depends_on_the_kernel_fails_under_the_second_one(tmp_path,
                                                                              monkeypatch):
    kernel = _openblas_kernels()
    page = tmp_path / "kernel.md"
    page.write_text("```python\nimport threadpoolctl\n"
                    "print([i['architecture'] for i in threadpoolctl.threadpool_info()\n"
                    "       if i.get('internal_api') == 'openblas'])\n```\n\n"
                    f"```text\n{kernel}\n```\n")
    monkeypatch.chdir(tmp_path)
    run_page(page)                                          # passes with this process's kernel
    parent, child, proc = _run_under_second_kernel(page, tmp_path)
    assert proc.returncode != 0
    assert f"kernel.md: code block 0 printed\n['{child}']" in proc.stderr
