"""Doctests that lay graphs out with Graphviz's `dot` skip where it is missing, except in CI
(where .ci/run installs it), as the tests in tests/test_viz.py do."""

import os
import shutil

import pytest

NEEDS_DOT = ("viz/player.py",)


def pytest_collection_modifyitems(config, items):
    if shutil.which("dot") is not None or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="Graphviz's `dot` is not installed (apt-get install graphviz)")
    for item in items:
        if isinstance(item, pytest.DoctestItem) and str(item.path).endswith(NEEDS_DOT):
            item.add_marker(skip)
