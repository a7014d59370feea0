"""viz.backward_player: recorded from the real walk, and the page driven in headless Chromium.

The page tests need Debian's `chromium` and Playwright for Python (both installed by .ci/run).
Outside CI they are skipped with the reason when either is missing; in CI (CI set) that fails.
"""

import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import GraphError, Tensor, autograd, nn, viz
from tinygrad_edu.autograd import _topological_order
from tinygrad_edu.nn.functional import cross_entropy
from tinygrad_edu.viz.graph import _Graph

IN_CI = bool(os.environ.get("CI"))
needs_dot = pytest.mark.skipif(shutil.which("dot") is None and not IN_CI,
                               reason="the Graphviz program `dot` is not installed")
pytestmark = needs_dot


# ---- graphs ----------------------------------------------------------------------------

def scalar_expression():
    a, b, c = (Tensor([v], requires_grad=True) for v in (2.0, -3.0, 10.0))
    a.name, b.name, c.name = "a", "b", "c"
    e = (a * b + c).relu()
    e.name = "e"
    return (a, b, c), e


def two_paths():
    """x reaches the output along two paths: x * y and x itself."""
    x = Tensor([1.5, -2.0], requires_grad=True)
    y = Tensor([3.0, 0.5], requires_grad=True)
    x.name, y.name = "x", "y"
    return (x, y), (x * y + x).sum()


class MLP(nn.Module):
    def __init__(self, sizes=(784, 128, 10)):
        self.fc1 = nn.Linear(sizes[0], sizes[1], rng=1)
        self.fc2 = nn.Linear(sizes[1], sizes[2], rng=2)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


def mnist_mlp():
    """The docs' MNIST MLP (784-128-10) on 8 shipped digits, with the cross-entropy loss."""
    from tinygrad_edu.data import mnist_sample, to_float
    images, labels = mnist_sample("train")
    x = Tensor(to_float(images[:8]))
    x.name = "images"
    model = MLP()
    loss = cross_entropy(model(x), labels[:8])
    loss.name = "loss"
    return model, loss


def deep_model(layers=8):
    mods = []
    for i in range(layers):
        mods += [nn.Linear(3, 3, rng=i), nn.Tanh()]
    model = nn.Sequential(*mods)
    x = Tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    x.name = "x"
    return model, model(x).sum()


@contextlib.contextmanager
def rule_calls(root):
    """Every backward rule run while inside, in order: (op name, the node's output)."""
    calls = []
    classes = {type(t._ctx) for t in _topological_order([root])}
    saved = {cls: cls.__dict__["backward"] for cls in classes}

    def spy(original):
        def backward(self, grad):
            calls.append((type(self).__name__, self._output()))
            return original(self, grad)
        return backward

    for cls, original in saved.items():
        cls.backward = spy(original)
    try:
        yield calls
    finally:
        for cls, original in saved.items():
            cls.backward = original


def grad_summary(t: Tensor) -> dict:
    return {"shape": list(t.grad.shape), "values": t.grad.data.tolist(),
            "norm": float(np.linalg.norm(t.grad.data.astype(np.float64)))}


def assert_same_grads(page_grads: dict, leaves: dict[str, Tensor]) -> None:
    assert set(page_grads) == set(leaves)
    for key, t in leaves.items():
        shown, want = page_grads[key], grad_summary(t)
        assert shown["shape"] == want["shape"], key
        if t.grad.data.size <= viz.player.SMALL:
            assert shown["values_or_norm"] == want["values"], key  # exactly the same floats
        else:
            assert shown["values_or_norm"] == pytest.approx(want["norm"], rel=1e-9), key
            assert shown["min"] == float(t.grad.data.min()), key
            assert shown["max"] == float(t.grad.data.max()), key


# ---- the recording (no browser) ---------------------------------------------------------

def test_player_steps_follow_the_walk():
    _, e = scalar_expression()
    ids = _Graph(e, "test", 10**6).ids
    with rule_calls(e) as calls:
        player = viz.backward_player(e)
    assert [s["op"] for s in player.steps] == [name for name, _ in calls] == ["ReLU", "Add",
                                                                                "Mul"]
    assert [s["out"] for s in player.steps] == [ids[id(out)] for _, out in calls]
    assert [s["node"] for s in player.steps] == ["op2", "op1", "op0"]


def test_player_node_ids_match_draw_graph():
    model, loss = deep_model(3)
    source = viz.draw_graph(loss, model=model, collapse_modules=True).source
    drawn = set(re.findall(r"^\s*(\w+) \[", source, re.M)) - {"legend", "node", "edge", "graph"}
    player = viz.backward_player(loss, model=model)
    assert set(re.findall(r'data-node="(\w+)"', player.html)) == drawn
    assert {s["node"] for s in player.steps} <= drawn


def test_player_records_the_gradients_each_rule_sent():
    (a, b, c), e = scalar_expression()
    player = viz.backward_player(e)
    mul = player.steps[2]
    assert mul["rule"] == "dx = g * y, dy = g * x"
    assert mul["grad_in"]["values"] == [1.0]
    assert [(g["arg"], g["name"], g["values"]) for g in mul["grads_out"]] == [
        ("x", "a", [-3.0]), ("y", "b", [2.0])]
    assert mul["from"] == [2] and player.steps[0]["from"] == []  # the seed
    assert mul["edges"] == ["t0->op0", "t1->op0"]


def test_player_leaf_reached_on_two_paths_shows_the_sum():
    (x, y), out = two_paths()
    player = viz.backward_player(out)
    parts = [g["values"] for s in player.steps for g in s["grads_out"] if g["name"] == "x"]
    assert parts == [[1.0, 1.0], [3.0, 0.5]]  # from the Add, then through the Mul
    assert player.leaf_grads["x"]["parts"] == [2, 3]
    assert player.leaf_grads["x"]["values_or_norm"] == x.grad.data.tolist() == [4.0, 1.5]


def test_player_broadcast_gradient_is_summed_to_the_input():
    x = Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    bias = Tensor([1.0, 2.0], requires_grad=True)
    player = viz.backward_player((x + bias).sum())
    sent = {g["tensor"]: g for g in player.steps[1]["grads_out"]}
    assert sent["t1"]["shape"] == [2] and sent["t1"]["summed_from"] == [3, 2]
    assert sent["t1"]["values"] == bias.grad.data.tolist() == [3.0, 3.0]


@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                                   max_side=5))
def test_player_leaf_grads_equal_python_grads(data, shapes):
    x, y = (Tensor(data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-4, 4, width=32))),
                   requires_grad=True) for shape in shapes.input_shapes)
    player = viz.backward_player(((x * y).tanh() + x).sum())
    assert_same_grads(player.leaf_grads, {"t0": x, "t1": y})


def test_player_adds_to_a_grad_from_an_earlier_backward():
    (x, y), out = two_paths()
    out.backward(retain_graph=True)
    player = viz.backward_player(out)
    assert player.leaf_grads["x"]["values_or_norm"] == x.grad.data.tolist() == [8.0, 3.0]


def test_player_mean_is_one_step():
    x = Tensor([1.0, 2.0, 4.0], requires_grad=True)
    player = viz.backward_player(x.exp().mean())
    assert [(s["op"], s["label"], s["node"]) for s in player.steps] == [
        ("Mean", "Mean", "op1"), ("Exp", "Exp", "op0")]
    assert player.leaf_grads["t0"]["values_or_norm"] == x.grad.data.tolist()


def test_player_collapses_modules_past_max_nodes():
    model, loss = deep_model(8)
    full = viz.backward_player(deep_model(8)[1], model=deep_model(8)[0])
    player = viz.backward_player(loss, model=model, max_nodes=30)
    drawn = set(re.findall(r'data-node="(\w+)"', player.html))
    assert len(drawn) <= 30 < len(set(re.findall(r'data-node="(\w+)"', full.html)))
    assert all(s["node"] in drawn for s in player.steps)
    linear = [s for s in player.steps if s["op"] == "Linear"]
    assert all(s["node"].startswith("m") and s["node"] != s["op_id"] for s in linear)
    assert len(player.steps) == len(full.steps)  # still one step per rule call
    assert_same_grads(player.leaf_grads, {f"{i}.{p}": getattr(model[i], p)
                                          for i in range(0, 16, 2) for p in ("weight", "bias")})


def test_player_too_big_without_modules_is_an_error():
    x = Tensor([0.5], requires_grad=True)
    y = x
    for _ in range(20):
        y = y * 0.9
    with pytest.raises(ValueError, match=r"the graph has 63 nodes .* more than max_nodes=10, "
                                         r"and no module cluster to collapse.*max_nodes=63"):
        viz.backward_player(y.sum(), max_nodes=10)
    assert x.grad is None  # backward did not run


def test_player_refuses_a_freed_graph():
    (x, _), out = two_paths()
    out.backward()
    with pytest.raises(GraphError, match=r"freed by an earlier \.backward\(\); the player "
                                         r"runs backward itself"):
        viz.backward_player(out)
    assert x.grad.data.tolist() == [4.0, 1.5]


def test_player_refuses_a_leaf():
    with pytest.raises(GraphError, match=r"is a leaf, so backward runs no rule to show"):
        viz.backward_player(Tensor([1.0], requires_grad=True))


def test_player_save_refuses_a_folder_before_running_backward(tmp_path):
    (x, _), out = two_paths()
    with pytest.raises(IsADirectoryError, match="is a folder; give a file path"):
        viz.save_backward_player(out, tmp_path)
    assert x.grad is None


def test_player_recorder_is_off_after_the_walk():
    (_, _), out = two_paths()
    viz.backward_player(out, gradient=None)
    assert getattr(autograd._recording, "recorder", None) is None
    (_, _), bad = two_paths()
    with pytest.raises(GraphError):
        viz.backward_player(bad * Tensor([1.0, 2.0]))  # two elements, no gradient given
    assert getattr(autograd._recording, "recorder", None) is None


def test_player_page_is_self_contained(tmp_path):
    (_, _), out = two_paths()
    path = viz.save_backward_player(out, tmp_path / "p.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<?xml" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page)  # no file, no CDN
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {
        "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def test_player_shows_itself_in_jupyter():
    (_, _), out = two_paths()
    player = viz.backward_player(out)
    shown = player._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"&lt;!DOCTYPE html&gt;")
    assert "window.backwardSteps" in shown and "<script" not in shown  # all inside srcdoc


def test_player_page_template_ships_as_package_data(tmp_path):
    """As from a wheel: the .py files plus the pyproject's package-data globs, zipped, and
    the page made from the template in a fresh interpreter."""
    tomllib = pytest.importorskip("tomllib")
    repo = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["tinygrad_edu.viz"]
    package = repo / "tinygrad_edu"
    files = set(package.rglob("*.py")) | {p for g in globs for p in (package / "viz").glob(g)}
    archive = tmp_path / "tinygrad_edu.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(files):
            zf.write(path, path.relative_to(repo).as_posix())
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from tinygrad_edu.viz import player\n"
            "assert player.__file__.startswith(sys.argv[1]), player.__file__\n"
            "page = player._page('T', '<svg></svg>', [], {})\n"
            "print(page.count('window.backwardSteps = []'), '<title>T</title>' in page)\n")
    result = subprocess.run([sys.executable, "-I", "-c", code, str(archive)],
                            capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "True"]


# ---- the page in a real browser ---------------------------------------------------------

def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "Playwright for Python is not installed (pip install -e '.[dev]')"
    else:
        reason = None if executable else "no Chromium found (apt-get install chromium)"
    if reason:
        if IN_CI:
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


class Page:
    """A player page open in Chromium, recording console errors and uncaught exceptions."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(path.resolve().as_uri())

    def js(self, expression: str):
        return self.page.evaluate(expression)

    def step(self) -> int:
        return int(self.js("document.body.dataset.step"))

    def active(self) -> list[str]:
        return self.js("[...document.querySelectorAll('.active')].map(e => e.dataset.node)")


@pytest.fixture
def open_page(browser):
    pages = []

    def open_(path):
        pages.append(Page(browser, path))
        return pages[-1]

    yield open_
    for page in pages:
        assert page.errors == [], page.errors  # the page logged no console errors
        page.page.close()


def test_player_page_steps_equal_the_rule_calls(open_page, tmp_path):
    model, loss = mnist_mlp()
    with rule_calls(loss) as calls:
        player = viz.backward_player(loss, model=model)
    page = open_page(player.save(tmp_path / "mlp.html"))
    steps = page.js("window.backwardSteps")
    assert len(steps) == len(calls) == 4
    assert [s["op"] for s in steps] == [name for name, _ in calls]
    assert steps == json.loads(json.dumps(player.steps))
    assert {"op", "node", "grad_in", "grads_out"} <= set(steps[0])
    assert {"to", "shape", "norm"} <= set(steps[0]["grads_out"][0])
    assert {"shape", "norm"} <= set(steps[0]["grad_in"])


def test_player_next_moves_active_in_step_order(open_page, tmp_path):
    model, loss = deep_model(3)
    page = open_page(viz.save_backward_player(loss, tmp_path / "deep.html", model=model))
    steps = page.js("window.backwardSteps")
    assert page.step() == 0 and page.active() == []
    for i, step in enumerate(steps, start=1):
        page.page.click("#next")
        assert page.step() == i
        assert page.active() == [step["node"]]
    assert page.js("document.querySelector('#next').disabled")
    page.page.click("#prev")
    assert page.step() == len(steps) - 1 and page.active() == [steps[-2]["node"]]


def test_player_keys_slider_play_and_reset(open_page, tmp_path):
    (_, _), out = two_paths()
    page = open_page(viz.save_backward_player(out, tmp_path / "two.html"))
    n = len(page.js("window.backwardSteps"))
    page.page.keyboard.press("ArrowRight")
    page.page.keyboard.press("ArrowRight")
    assert page.step() == 2
    page.page.keyboard.press("ArrowLeft")
    assert page.step() == 1
    page.page.keyboard.press("End")
    assert page.step() == n
    page.page.fill("#slider", "1")  # sets the value and fires input
    assert page.step() == 1
    page.page.click("#reset")
    assert page.step() == 0 and page.active() == []
    page.page.select_option("#speed", "250")
    page.page.click("#play")
    page.page.wait_for_function(f"document.body.dataset.step === '{n}'", timeout=10_000)
    assert page.active() == [page.js("window.backwardSteps")[-1]["node"]]


@pytest.mark.parametrize("graph", ["scalar expression", "MNIST MLP"])
def test_player_page_leaf_grads_equal_python_grads(open_page, tmp_path, graph):
    if graph == "scalar expression":
        (a, b, c), root = scalar_expression()
        model, leaves = None, {"a": a, "b": b, "c": c}
    else:
        model, root = mnist_mlp()
        leaves = dict(model.named_parameters())
    page = open_page(viz.save_backward_player(root, tmp_path / "p.html", model=model))
    assert_same_grads(page.js("window.leafGrads"), leaves)


def test_player_collapsed_module_steps_as_one_node(open_page, tmp_path):
    model, loss = deep_model(8)
    page = open_page(viz.save_backward_player(loss, tmp_path / "c.html", model=model,
                                              max_nodes=30))
    steps = page.js("window.backwardSteps")
    for i, step in enumerate(steps, start=1):
        page.page.keyboard.press("ArrowRight")
        assert page.step() == i and page.active() == [step["node"]]
    assert any(node.startswith("m") for node in page.active())


def test_player_screenshot_is_not_blank(open_page, tmp_path):
    image = pytest.importorskip("PIL.Image")
    (_, _, _), e = scalar_expression()
    page = open_page(viz.save_backward_player(e, tmp_path / "scalar.html"))
    page.page.click("#next")
    page.page.click("#next")
    shot = tmp_path / "scalar_step2.png"
    page.page.screenshot(path=str(shot))
    pixels = np.asarray(image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.std() > 10 and len(np.unique(pixels)) > 50
    # the highlighted op is drawn: some pixels carry the accent colour
    rgb = np.asarray(image.open(shot).convert("RGB"), dtype=np.int64)
    accent = (abs(rgb[..., 0] - 0xD5) < 20) & (abs(rgb[..., 1] - 0x5E) < 20) & (rgb[..., 2] < 40)
    assert accent.sum() > 50


def test_player_example_writes_the_mlp_page(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "draw_graph_example", Path(__file__).resolve().parents[1] / "examples" / "draw_graph.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(["--player", str(tmp_path), "--batch", "2", "--hidden", "4"])
    assert capsys.readouterr().out.split("\n")[:2] == [
        f"wrote {tmp_path / 'scalar_backward.html'}", f"wrote {tmp_path / 'mlp_backward.html'}"]
    page = (tmp_path / "mlp_backward.html").read_text(encoding="utf-8")
    steps = json.loads(page.split("window.backwardSteps = ")[1].split(";\n")[0])
    assert [s["op"] for s in steps] == ["CrossEntropy", "Linear", "ReLU", "Linear"]
    assert "fc1.weight" in page and "MLP 784-4-10 on 2 MNIST digits" in page


@pytest.mark.parametrize("name", ["mlp_backward.html", "scalar_backward.html"])
def test_player_docs_pages_come_from_the_current_template(name):
    """docs/player/ holds pages made by `python examples/draw_graph.py --player`: regenerate
    them when player.html changes."""
    repo = Path(__file__).resolve().parents[1]
    page = (repo / "docs" / "player" / name).read_text(encoding="utf-8")
    template = (repo / "tinygrad_edu" / "viz" / "player.html").read_text(encoding="utf-8")
    position = 0
    for chunk in re.split(r"__TITLE__|__SVG__|__DATA__", template):
        found = page.find(chunk, position)
        assert found >= 0, f"docs/player/{name} is stale: rerun examples/draw_graph.py --player"
        position = found + len(chunk)
