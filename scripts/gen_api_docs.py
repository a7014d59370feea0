"""Write docs/api.md: every public name of tinygrad_edu with its signature and docstring.

Run `python scripts/gen_api_docs.py` after changing a public docstring; the test
`tests/docs/test_api_reference.py` fails while docs/api.md is out of date.
`--check` only says whether it is (exit status 1 if not) and writes nothing.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

MODULES = [
    "tinygrad_edu",
    "tinygrad_edu.nn",
    "tinygrad_edu.nn.functional",
    "tinygrad_edu.optim",
    "tinygrad_edu.data",
    "tinygrad_edu.viz",
    "tinygrad_edu.testing",
    "tinygrad_edu.testing.strategies",
]
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "api.md"
sys.path.insert(0, str(ROOT))  # document this checkout, installed or not


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""


def _doc(obj) -> str:
    """The docstring as a text block (NumPy-style sections are not Markdown)."""
    text = inspect.cleandoc(obj.__doc__) if obj.__doc__ else "(no docstring)"
    return f"```text\n{text}\n```"


def _members(cls) -> list[tuple[str, object]]:
    """Public methods and properties defined by the class itself, in source order."""
    found = []
    for name, value in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if (inspect.isfunction(value) or isinstance(value, property)) and value.__doc__:
            found.append((name, value))
    return found


def render() -> str:
    lines = ["# API reference", "",
             "Generated from the docstrings by `python scripts/gen_api_docs.py`; do not edit by "
             "hand. The tutorial is [tutorial.md](tutorial.md).", ""]
    for modname in MODULES:
        module = importlib.import_module(modname)  # a module that fails to import is an error
        names = getattr(module, "__all__", [])
        if not names:
            continue
        lines += [f"## `{modname}`", "", _doc(module), ""]
        for name in names:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            if getattr(obj, "__module__", modname) != modname and modname != "tinygrad_edu" \
                    and not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if inspect.isclass(obj):
                lines += [f"### class `{name}{_signature(obj)}`", "", _doc(obj), ""]
                for member, value in _members(obj):
                    if member == "__init__":
                        continue
                    kind = "property " if isinstance(value, property) else ""
                    sig = "" if kind else _signature(value)
                    lines += [f"#### {kind}`{name}.{member}{sig}`", "", _doc(value), ""]
            elif callable(obj):
                lines += [f"### `{name}{_signature(obj)}`", "", _doc(obj), ""]
            else:
                lines += [f"### `{name}` = `{obj!r}`", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only say whether docs/api.md is current; write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.exists() and OUT.read_text() == text
        print(f"{OUT} is {'current' if current else 'out of date'}")
        return 0 if current else 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
