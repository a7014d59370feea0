"""docs/api.md is the generated reference: it must match the docstrings."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("gen_api_docs",
                                                  ROOT / "scripts" / "gen_api_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (ROOT / "docs" / "api.md").read_text() == gen.render(), (
        "docs/api.md is out of date: run `python scripts/gen_api_docs.py`")


def test_check_says_whether_the_reference_is_current_and_writes_nothing(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gen_api_docs",
                                                  ROOT / "scripts" / "gen_api_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.OUT = tmp_path / "api.md"
    gen.OUT.write_text("stale")
    assert gen.main(["--check"]) == 1 and gen.OUT.read_text() == "stale"
    assert "out of date" in capsys.readouterr().out
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
