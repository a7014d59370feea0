"""Every Python block in README.md and docs/*.md runs, and every relative link resolves.

A file's ```python blocks run in order in one namespace, as a reader would type them; a block
whose first line is `# not run` is skipped (say why on that line). When a ```text block
follows a python block directly, it is the block's printed output and must match (as in a
doctest: `...` stands for any text). Blocks run in a temporary working directory, so files
they write do not litter the repository.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```\n(?:\n```text\n(.*?)^```)?", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _python_blocks(path: Path) -> list[tuple[str, str]]:
    """(code, expected output or '') for each block that runs."""
    return [(code, out) for code, out in BLOCK.findall(path.read_text())
            if not code.startswith("# not run")]


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
    namespace: dict = {"__name__": "__doc__"}
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for i, (code, expected) in enumerate(_python_blocks(path)):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, f"{path.name}[block {i}]", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{path.name}: code block {i} failed:\n{code}") from exc
        if expected and not checker.check_output(expected, printed.getvalue(), flags):
            raise AssertionError(f"{path.name}: code block {i} printed\n{printed.getvalue()}\n"
                                 f"but the page shows\n{expected}")


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
