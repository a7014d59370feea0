"""Figures and listings in the docs that no code block prints are compared with what the code
does (issue 16, item 3): gradcheck's messages, tolerances and the hypothesis profiles in
testing.md, the limits and sizes data.md states, the module tree in design.md.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

from tests.docs.test_docs import ROOT, output_matches
from tests.docs.test_testing_example import DetachedSoftplus, Softplus, softplus
from tinygrad_edu.data import DownloadError, download, mnist_sample
from tinygrad_edu.testing import GradcheckError, gradcheck, gradgradcheck

DOCS = ROOT / "docs"
PACKAGE = ROOT / "tinygrad_edu"
gradcheck_module = importlib.import_module("tinygrad_edu.testing.gradcheck")
TEXT_BLOCK = re.compile(r"^```text\n(.*?)^```", re.S | re.M)


class ForgetfulSoftplus(Softplus):
    def backward(self, grad):
        (x,) = self.inputs
        return x.sigmoid()                     # wrong: the incoming gradient is ignored


def _message(check, fn, x) -> str:
    with pytest.raises(GradcheckError) as info:
        check(fn, [x])
    return f"GradcheckError: {info.value}"


def test_first_03_testing_md_shows_the_errors_gradcheck_raises():
    listings = [block for block in TEXT_BLOCK.findall((DOCS / "testing.md").read_text())
                if block.startswith("GradcheckError:")]
    x = np.array([-1.0, 0.5, 2.0])             # the page's x
    raised = [_message(gradgradcheck, DetachedSoftplus.apply, x),
              _message(gradcheck, lambda t: ForgetfulSoftplus.apply(t).sum(), x)]
    assert len(listings) == len(raised)
    for listing, message in zip(listings, raised, strict=True):
        assert output_matches(listing, message), (
            f"docs/testing.md shows\n{listing}\nbut gradcheck raises\n{message}")


def test_first_03_the_forgetful_rule_is_the_one_testing_md_describes():
    # the page's second listing is for softplus(t).sum() with the rule `return x.sigmoid()`
    x = np.array([-1.0, 0.5, 2.0])
    assert gradcheck(lambda t: softplus(t).sum(), [x])


def test_first_03_data_md_states_the_download_limits_the_code_has():
    page = (DOCS / "data.md").read_text()
    defaults = inspect.signature(download).parameters
    for name in ("timeout", "deadline"):
        stated = re.search(rf"`{name}` \(([\d.]+) s\)", page)
        assert stated, f"docs/data.md no longer states `{name}` (N s)"
        assert float(stated[1]) == defaults[name].default, name


def test_first_03_data_md_states_the_shipped_sample_as_it_is():
    page = (DOCS / "data.md").read_text()
    stated = re.search(r"ship inside the package \(([\d.]+) MB\)", page)
    assert stated, "docs/data.md no longer states the sample's size in MB"
    size = sum(p.stat().st_size for p in (PACKAGE / "data" / "sample").glob("*.gz"))
    assert float(stated[1]) == round(size / 1e6, 1)
    rows = dict(re.findall(r'^\| `"(\w+)"` \| .* \| ([\d,]+) \|$', page, re.M))
    assert {split: int(n.replace(",", "")) for split, n in rows.items()} == {
        split: len(mnist_sample(split)[1]) for split in ("train", "test", "all")}


PY_FILE = re.compile(r"\b(\w+\.py)\b")
SUBPACKAGE = re.compile(r"\b(\w+/) \(([^)]*)\)")     # `functional/ (losses.py, conv.py)`


def _tree_entries(page: str) -> dict[str, list[str]]:
    """{entry of the tree: the .py files its lines name, as paths inside it}, from design.md's
    first text block; a package inside a package lists its files in parentheses after it."""
    texts: dict[str, str] = {}
    name = None
    for line in TEXT_BLOCK.search(page)[1].splitlines()[1:]:
        entry = re.match(r"[├└]── (\S+)", line)
        if entry:
            name = entry[1]
            texts[name] = ""
        if name and name.endswith("/"):
            texts[name] += " " + line[len("├── ") + len(name):]
    return {name: [sub + m for sub, inner in SUBPACKAGE.findall(text)
                   for m in PY_FILE.findall(inner)] + PY_FILE.findall(SUBPACKAGE.sub("", text))
            for name, text in texts.items()}


def test_first_03_design_md_tree_names_every_module_and_package_that_exists():
    entries = _tree_entries((DOCS / "design.md").read_text())
    on_disk = {p.name + ("/" if p.is_dir() else "") for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and p.name != "__init__.py")
               or (p.is_dir() and (p / "__init__.py").exists())}
    assert set(entries) == on_disk
    for package, modules in entries.items():
        missing = [m for m in modules if not (PACKAGE / package / m).exists()]
        assert not missing, f"docs/design.md names {package}{missing}, which do not exist"
        for sub in {m.rsplit("/", 1)[0] for m in modules if "/" in m}:
            unnamed = sorted(f"{sub}/{p.name}" for p in (PACKAGE / package / sub).glob("*.py")
                             if p.name != "__init__.py" and f"{sub}/{p.name}" not in modules)
            assert not unnamed, f"docs/design.md's {package}{sub}/ leaves out {unnamed}"


def test_first_03_testing_md_states_gradchecks_tolerances():
    page = (DOCS / "testing.md").read_text()
    stated = dict(re.findall(r"^\| `(EPS|RTOL|ATOL)` \| `([^`]+)` \|", page, re.M))
    assert {name: float(value) for name, value in stated.items()} == {
        "EPS": gradcheck_module.EPS, "RTOL": gradcheck_module.RTOL, "ATOL": gradcheck_module.ATOL}
    rounding = re.search(r"^\| `ROUNDING` \| `64 \* 2\*\*-52 / EPS`, about `([\d.e-]+)` \|",
                         page, re.M)
    assert rounding, "docs/testing.md no longer states ROUNDING's formula and value"
    assert gradcheck_module.ROUNDING == 64 * 2**-52 / gradcheck_module.EPS
    assert float(rounding[1]) == float(f"{gradcheck_module.ROUNDING:.1e}")


def _conftest_profiles() -> dict[str, dict]:
    """{name: the keywords of its register_profile call} in tests/conftest.py. Read from the
    source: the registry itself changes when testing.md's conftest snippet runs."""
    tree = ast.parse((ROOT / "tests" / "conftest.py").read_text())
    return {call.args[0].value: {k.arg: ast.literal_eval(k.value) for k in call.keywords
                                 if k.arg in ("max_examples", "derandomize")}
            for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "register_profile"}


def test_first_03_testing_md_states_the_hypothesis_profiles_of_conftest():
    page = (DOCS / "testing.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (\d+), (derandomized|random)", page, re.M)
    profiles = _conftest_profiles()
    assert {name: (int(examples), kind == "derandomized") for name, examples, kind in rows} == {
        name: (p["max_examples"], p.get("derandomize", False)) for name, p in profiles.items()}
    ratio = re.search(r"`thorough` draws (\d+) times as many as `ci`", page)
    assert ratio
    assert int(ratio[1]) == profiles["thorough"]["max_examples"] // profiles["ci"]["max_examples"]


def test_first_03_data_md_shows_what_a_failed_download_prints(tmp_path, monkeypatch, capsys):
    listing = next(block for block in TEXT_BLOCK.findall((DOCS / "data.md").read_text())
                   if "tinygrad_edu: downloading" in block)

    def offline(url, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError):
        download("mnist", "train", folder=tmp_path / "mnist", mirrors=["https://example.org/"])
    printed = capsys.readouterr().err
    assert output_matches(listing, printed), (
        f"docs/data.md shows\n{listing}\nbut a download without network prints\n{printed}")
