"""Every Python block in README.md and docs/*.md runs, and every relative link resolves.

A file's ```python blocks run in order in one namespace, as a reader would type them; a block
whose first line is `# not run` is skipped (say why on that line). When a ```text block
follows a python block directly, it is the block's printed output and must match, as in a
doctest with ELLIPSIS and NORMALIZE_WHITESPACE (`...` stands for any text), except that
numbers are compared with a tolerance (`output_matches`), so a page never depends on digits
that another BLAS kernel, CPU or summation order prints differently. Blocks run in a
temporary working directory, so files they write do not litter the repository.

A page whose blocks call Graphviz's `dot` is skipped where `dot` is missing, except in CI
(the environment variable CI is set), where that is a failure: as in tests/test_viz.py.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shutil
from pathlib import Path

import graphviz
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```\n(?:\n```text\n(.*?)^```)?", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# Two numbers written with the same digits match when they differ by at most REL of their
# size or by ABS: float64 rounding noise (a sum of O(1) terms in another order, another
# matmul kernel) is ~1e-16, float32's a few times 1e-8, and a page has no business showing
# differences below 1e-12. A page number written with fewer digits than the output stands
# for the output rounded to those digits (doctest's NUMBER option in pytest): `0.645`
# matches 0.6449999809265137. Integers (no `.`, no exponent) and the sign of a zero are
# compared exactly.
REL, ABS = 1e-6, 1e-12
# A number on the page: a decimal point or an exponent, not part of a word or of `...`.
_PAGE_NUMBER = (r"(?<![\w.])[+-]?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?"
                r"|\d+[eE][+-]?\d+)(?![\w.])")
_PAGE_TOKEN = re.compile(rf"(?P<ellipsis>\.\.\.)|(?P<number>{_PAGE_NUMBER})|(?P<char>.)", re.S)
_OUTPUT_NUMBER = r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"


def _precision(text: str) -> int:
    """Decimal places a written number shows: `0.645` 3, `4.` 0, `1.5e-16` 17, `12` 0."""
    mantissa, _, exponent = text.lower().partition("e")
    places = len(mantissa.partition(".")[2])
    return places - int(exponent or 0)


def _close(page: str, printed: str) -> bool:
    """Whether a number the page shows stands for the number printed (see REL, ABS)."""
    w, g = float(page), float(printed)
    if w == g == 0:
        return page.startswith("-") == printed.startswith("-")    # -0.0 is printed on purpose
    if abs(w - g) <= max(REL * max(abs(w), abs(g)), ABS):
        return True
    # fewer digits on the page: the printed number, rounded to them, must give the page's
    return (_precision(printed) > _precision(page)
            and abs(w - g) <= 0.5 * 10.0 ** -_precision(page) * (1 + REL))


def _with_page_numbers(expected: str, printed: str) -> str:
    """`printed` (whitespace normalised) with each number that is close to the page's number
    in the same place written as the page writes it; `printed` unchanged if the page's text
    cannot be lined up with it.

    The page is split at `...` as doctest's ELLIPSIS does, and each piece is found from left
    to right (the first piece at the start, the last at the end), its numbers matching any
    number. Only close numbers are replaced, so doctest's check afterwards still fails on
    any other difference.
    """
    want, got = " ".join(expected.split()), " ".join(printed.split())
    pieces: list[tuple[str, list[str]]] = [("", [])]    # (regex, the page's numbers)
    for token in _PAGE_TOKEN.finditer(want):
        if token["ellipsis"]:
            pieces.append(("", []))
        elif token["number"]:
            regex, numbers = pieces[-1]
            pieces[-1] = (regex + _OUTPUT_NUMBER, [*numbers, token["number"]])
        else:
            regex, numbers = pieces[-1]
            pieces[-1] = (regex + re.escape(token["char"]), numbers)
    if not any(numbers for _, numbers in pieces):
        return printed
    out, pos = [], 0
    for i, (regex, numbers) in enumerate(pieces):
        first, last = i == 0, i == len(pieces) - 1
        pattern = re.compile(regex + (r"\Z" if last else ""))
        match = pattern.match(got, pos) if first else pattern.search(got, pos)
        if match is None:
            return printed
        out.append(got[pos:match.start()])               # what the `...` before stood for
        end = match.start()
        for j, number in enumerate(numbers, start=1):
            out.append(got[end:match.start(j)])
            out.append(number if _close(number, match[j]) else match[j])
            end = match.end(j)
        out.append(got[end:match.end()])
        pos = match.end()
    return "".join(out)


def output_matches(expected: str, printed: str) -> bool:
    """Whether a page's ```text block matches what its code printed (see the module doc)."""
    checker = doctest.OutputChecker()
    return (checker.check_output(expected, printed, FLAGS)
            or checker.check_output(expected, _with_page_numbers(expected, printed), FLAGS))


def _python_blocks(path: Path) -> list[tuple[str, str]]:
    """(code, expected output or '') for each block that runs."""
    return [(code, out) for code, out in BLOCK.findall(path.read_text())
            if not code.startswith("# not run")]


def run_page(path: Path) -> None:
    """Run a page's python blocks in order in one namespace, in the current directory, and
    check each printed output against the page; AssertionError naming the block if not."""
    namespace: dict = {"__name__": "__doc__"}
    for i, (code, expected) in enumerate(_python_blocks(path)):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, f"{path.name}[block {i}]", "exec"), namespace)
        except graphviz.ExecutableNotFound as exc:
            if shutil.which("dot") is None and not os.environ.get("CI"):
                pytest.skip(f"{path.name}: block {i} needs the Graphviz program `dot`, "
                            "which is not installed")
            raise AssertionError(f"{path.name}: code block {i} failed:\n{code}") from exc
        except Exception as exc:
            raise AssertionError(f"{path.name}: code block {i} failed:\n{code}") from exc
        if expected and not output_matches(expected, printed.getvalue()):
            raise AssertionError(f"{path.name}: code block {i} printed\n{printed.getvalue()}\n"
                                 f"but the page shows\n{expected}")


def _anchors(path: Path) -> set[str]:
    """GitHub-style anchors of a Markdown file's headings."""
    anchors = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("path", [p for p in DOCS if _python_blocks(p)], ids=lambda p: p.name)
def test_doc_code_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_page(path)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_doc_links_resolve(path):
    broken = []
    for target in LINK.findall(path.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target} (no file {dest.relative_to(ROOT)})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.name})")
    assert not broken, f"{path.name}: broken links: {broken}"
