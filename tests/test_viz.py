"""tinygrad_edu.viz: DOT structure, stable ids, limits, explain, text_graph, rendering."""

import doctest
import importlib.util
import os
import re
import shutil
import weakref
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

from tinygrad_edu import Function, GraphError, Tensor, ops, viz
from tinygrad_edu.autograd import _topological_order
from tinygrad_edu.nn import Linear, Module, ReLU, Sequential
from tinygrad_edu.nn.functional import cross_entropy
from tinygrad_edu.testing import strategies as tst
from tinygrad_edu.viz import graph as graph_module

# Rendering needs the `dot` program. CI installs it, so there a missing `dot` must fail;
# elsewhere (a laptop without graphviz) those tests are skipped.
needs_dot = pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"),
                               reason="the Graphviz program `dot` is not installed")


# ---- graphs to draw --------------------------------------------------------------------

def scalar_expression():
    """e = relu(a * b + c) with named leaves, the running example of the docs."""
    a, b, c = (Tensor([v], requires_grad=True) for v in (2.0, -3.0, 10.0))
    a.name, b.name, c.name = "a", "b", "c"
    e = (a * b + c).relu()
    e.name = "e"
    return a, b, c, e


class MLP(Module):
    def __init__(self, sizes=(6, 5, 3), seed=0):
        self.fc1 = Linear(sizes[0], sizes[1], rng=seed)
        self.fc2 = Linear(sizes[1], sizes[2], rng=seed + 1)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


def mlp_loss(model=None, batch=4):
    model = model or MLP()
    x = Tensor(np.linspace(-1, 1, batch * 6, dtype=np.float32).reshape(batch, 6))
    x.name = "x"
    loss = cross_entropy(model(x), np.arange(batch) % 3)
    loss.name = "loss"
    return model, loss


class Scale(Module):
    """A bare module: no sub-modules, so clusters are labelled by class name and counter."""

    def __init__(self, factor):
        self.factor = Tensor([factor], requires_grad=True)

    def forward(self, x):
        return x * self.factor


class Cube(Function):
    """out = x ** 3"""

    def forward(self, x):
        return x ** 3

    def backward(self, grad):
        (x,) = self.inputs
        return grad * 3 * x * x


# ---- reading DOT source ----------------------------------------------------------------

def parse(source):
    """Nodes (id -> (text without markup, whole line, enclosing cluster labels)) and edges."""
    nodes, edges, stack = {}, [], []
    for line in source.splitlines():
        s = line.strip()
        if s.startswith("subgraph"):
            stack.append("cluster" if s.startswith("subgraph cluster_") else "plain")
        elif s == "}" and stack:
            stack.pop()
        elif (m := re.match(r"(\w+) -> (\w+)", s)):
            edges.append((m[1], m[2]))
        elif stack and stack[-1] == "cluster" and re.search(r"\blabel=", s) and "[" not in s:
            m = re.search(r'\blabel=(?:"([^"]*)"|(\S+))', s)
            stack[-1] = ("cluster", m[1] or m[2])
        elif (m := re.match(r"(\w+) \[label=(.*)", s)):
            text = re.sub(r"<[^>]*>", " ", _html_label(m[2]))
            text = " ".join(text.replace("&gt;", ">").replace("&lt;", "<").split())
            nodes[m[1]] = (text, s, [c[1] for c in stack if isinstance(c, tuple)])
    return nodes, edges


def _html_label(text):
    """The <...> label at the start of `text`, up to its matching '>'."""
    depth = 0
    for i, ch in enumerate(text):
        depth += {"<": 1, ">": -1}.get(ch, 0)
        if depth == 0:
            return text[1:i]
    raise AssertionError(f"unterminated label: {text}")


def graph_nodes(source):
    nodes, edges = parse(source)
    return {k: v for k, v in nodes.items() if k != "legend"}, edges


# ---- structure -------------------------------------------------------------------------

def test_scalar_graph_has_a_node_per_tensor_and_per_op():
    *_, e = scalar_expression()
    nodes, edges = graph_nodes(viz.draw_graph(e).source)
    assert sorted(nodes) == sorted(["t0", "t1", "t2", "t3", "t4", "t5", "op0", "op1", "op2"])
    assert [nodes[f"op{i}"][0] for i in range(3)] == ["Mul", "Add", "ReLU"]
    assert nodes["t0"][0] == "a (1,) float32"
    assert nodes["t5"][0] == "e (1,) float32"


def test_edges_run_from_inputs_through_ops_to_outputs():
    *_, e = scalar_expression()
    _, edges = graph_nodes(viz.draw_graph(e).source)
    assert edges == [("t0", "op0"), ("t1", "op0"), ("op0", "t2"), ("t2", "op1"),
                     ("t3", "op1"), ("op1", "t4"), ("t4", "op2"), ("op2", "t5")]


def test_node_ids_are_stable_across_calls_and_identical_graphs():
    *_, e1 = scalar_expression()
    *_, e2 = scalar_expression()
    first = viz.draw_graph(e1, show_rules=True).source
    assert viz.draw_graph(e1, show_rules=True).source == first
    assert viz.draw_graph(e2, show_rules=True).source == first
    model, loss1 = mlp_loss()
    _, loss2 = mlp_loss(MLP())
    assert (viz.draw_graph(loss1, collapse_modules=True).source
            == viz.draw_graph(loss2, collapse_modules=True).source)


def test_kinds_have_their_own_style_and_legend_entry():
    _, loss = mlp_loss()
    nodes, _ = parse(viz.draw_graph(loss).source)
    styles = {}
    for name, kind in [("x", "input"), ("fc1.weight", "parameter"), ("loss", "output")]:
        (line,) = [n[1] for n in nodes.values() if n[0].startswith(name + " ")]
        styles[kind] = re.search(r'fillcolor="([^"]+)".*shape=(\w+)', line).groups()
    styles["op"] = re.search(r'fillcolor="([^"]+)".*shape=(\w+)', nodes["op0"][1]).groups()
    assert len(set(styles.values())) == 4
    legend = nodes["legend"][0]
    for entry in ("parameter", "input", "intermediate value", "output", "op"):
        assert entry in legend


def test_a_lifted_number_is_drawn_as_a_constant():
    w = Tensor([1.0, 2.0], requires_grad=True)
    nodes, _ = graph_nodes(viz.draw_graph((w * 0.5).sum()).source)
    assert nodes["t1"][0] == "0.5"
    assert "dashed" in nodes["t1"][1]


def test_model_names_parameters_by_their_path():
    model, loss = mlp_loss()
    model.fc1.weight.name = "W1"
    names = [n[0].split()[0] for n in graph_nodes(viz.draw_graph(loss).source)[0].values()]
    assert "W1" in names and "fc1.bias" in names          # t.name first, then the path
    names = [n[0].split()[0] for n in graph_nodes(
        viz.draw_graph(loss, model=model).source)[0].values()]
    assert "fc1.weight" in names and "W1" not in names    # model= names win


def test_collapse_modules_puts_each_modules_ops_in_a_labelled_cluster():
    model, loss = mlp_loss()
    nodes, _ = graph_nodes(viz.draw_graph(loss, collapse_modules=True, model=model).source)
    where = {text.split()[0]: clusters for text, _, clusters in nodes.values()}
    assert where["fc1.weight"] == ["MLP", "fc1 (Linear)"]
    assert where["fc2.bias"] == ["MLP", "fc2 (Linear)"]
    assert where["ReLU"] == ["MLP"]                      # made by MLP.forward itself
    assert where["x"] == [] and where["CrossEntropy"] == [] and where["loss"] == []
    in_fc1 = sorted(text.split()[0] for text, _, c in nodes.values() if c[-1:] == ["fc1 (Linear)"])
    assert in_fc1 == ["(4,", "Linear", "fc1.bias", "fc1.weight"]


def test_collapse_modules_labels_bare_modules_by_class_and_counter():
    x = Tensor([1.0, 2.0])
    y = Scale(2.0)(Scale(3.0)(x)).sum()
    nodes, _ = graph_nodes(viz.draw_graph(y, collapse_modules=True).source)
    clusters = sorted({c[0] for _, _, c in nodes.values() if c})
    assert clusters == ["Scale #1", "Scale #2"]
    assert "cluster" not in viz.draw_graph(y).source


def test_sequential_layers_are_named_by_index_given_the_model():
    net = Sequential(Linear(3, 4, rng=0), ReLU(), Linear(4, 2, rng=1))
    out = net(Tensor(np.ones((2, 3), dtype=np.float32))).sum()
    nodes, _ = graph_nodes(viz.draw_graph(out, collapse_modules=True, model=net).source)
    where = {text.split()[0]: clusters for text, _, clusters in nodes.values()}
    assert where["0.weight"] == ["Sequential", "0 (Linear)"]
    assert where["ReLU"] == ["Sequential", "1 (ReLU)"]
    # Sequential itself makes no op, so without model= its layers are all we know of
    nodes, _ = graph_nodes(viz.draw_graph(out, collapse_modules=True).source)
    assert [c for text, _, c in nodes.values() if text.startswith(("Linear", "ReLU"))] == [
        ["Linear #1"], ["ReLU"], ["Linear #2"]]


def test_show_rules_adds_the_backward_rule_and_names_the_operands():
    _, loss = mlp_loss()
    source = viz.draw_graph(loss, show_rules=True).source
    nodes, _ = graph_nodes(source)
    (first, text1), (op, text) = [(k, v[0]) for k, v in nodes.items()
                                  if v[0].startswith("Linear")]
    assert text1 == "Linear dW = g^T @ x db = g summed over the batch"   # x needs no gradient
    assert text == "Linear dx = g @ W dW = g^T @ x db = g summed over the batch"
    for name in ("x", "W", "b"):                       # the inputs named as in the rule
        assert re.search(rf"t\d+ -> {op} \[label={name}\]", source)
    assert "label=x" not in viz.draw_graph(loss).source


def test_every_engine_op_has_a_backward_rule():
    engine_ops = [name for name, cls in vars(ops).items() if isinstance(cls, type)
                  and issubclass(cls, Function) and cls is not Function
                  and not name.startswith("_")]
    assert sorted(engine_ops) == sorted(viz.BACKWARD_RULES)


def test_a_summed_loss_rule_has_no_mean():
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    text = viz.explain(cross_entropy(x, [0, 1], reduction="sum"))
    assert "CrossEntropy: dx = (softmax(x) - y) * g\n" in text


def test_an_unknown_op_shows_its_docstring_first_line():
    x = Tensor([2.0], requires_grad=True)
    nodes, _ = graph_nodes(viz.draw_graph(Cube.apply(x), show_rules=True).source)
    assert nodes["op0"][0] == "Cube out = x ** 3"


def test_values_and_gradients_after_backward():
    a, b, c, e = scalar_expression()
    viz.retain_grads(e).backward(retain_graph=True)
    nodes, _ = graph_nodes(viz.draw_graph(e, show_values=True).source)
    assert nodes["t2"][0] == "(1,) float32 value -6 grad 1"   # a * b, dL/d(ab) = 1
    assert nodes["t0"][0] == "a (1,) float32 value 2 grad -3"  # dL/da = b
    assert not any("value" in text for text, *_ in graph_nodes(viz.draw_graph(e).source)[0]
                   .values())


def test_a_dead_gradient_is_flagged():
    x = Tensor([[-1.0], [-2.0]])
    w = Tensor([[1.0, 2.0]], requires_grad=True)
    w.name = "w"
    loss = (x @ w).relu().sum()                 # every entry < 0: relu passes no gradient
    loss.backward(retain_graph=True)
    nodes, _ = graph_nodes(viz.draw_graph(loss).source)
    (text, line, _), = [n for n in nodes.values() if n[0].startswith("w ")]
    assert text == "w (1, 2) float32 grad all zero"
    assert 'COLOR="#C00000">grad all zero' in line


def test_retain_grads_keeps_every_intermediate_gradient():
    _, loss = mlp_loss()
    viz.retain_grads(loss).backward(retain_graph=True)
    assert all(t.grad is not None and t.grad.shape == t.shape
               for t in _topological_order([loss]))


def test_title_and_direction():
    *_, e = scalar_expression()
    source = viz.draw_graph(e, direction="TB", title="e = relu(a*b + c)").source
    assert "rankdir=TB" in source and 'label="e = relu(a*b + c)"' in source
    with pytest.raises(ValueError, match="direction must be 'LR' or 'TB', got 'up'"):
        viz.draw_graph(e, direction="up")


def test_tensor_draw_is_draw_graph():
    *_, e = scalar_expression()
    assert e.draw(direction="TB", show_rules=True).source == viz.draw_graph(
        e, direction="TB", show_rules=True).source


def test_a_leaf_is_drawn_alone():
    w = Tensor([1.0], requires_grad=True)
    nodes, edges = graph_nodes(viz.draw_graph(w).source)
    assert list(nodes) == ["t0"] and edges == []


# ---- limits and errors -----------------------------------------------------------------

def chain(n):
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0
    return y


def test_a_huge_graph_obeys_the_limit():
    y = chain(2000)
    with pytest.raises(ValueError, match=r"draw_graph: the graph has 6001 nodes \(2000 ops "
                                         r"and 4001 tensors\), more than max_nodes=300.*"
                                         r"max_nodes=6001"):
        viz.draw_graph(y)
    with pytest.raises(ValueError, match="text_graph: the graph has 6001 nodes"):
        viz.text_graph(y)
    with pytest.raises(ValueError, match="more than max_nodes=5"):
        viz.draw_graph(chain(3), max_nodes=5)
    assert viz.draw_graph(chain(3), max_nodes=10)


def test_retain_grads_after_backward_says_to_call_it_before():
    *_, e = scalar_expression()
    e.backward()
    with pytest.raises(GraphError, match=r"retain_grads: the graph that made this tensor was "
                                         r"freed by \.backward\(\) \(here: ReLU\).*Call "
                                         r"retain_grads\(loss\) before "
                                         r"loss\.backward\(retain_graph=True\)"):
        viz.retain_grads(e)


def test_draw_graph_needs_a_tensor():
    with pytest.raises(TypeError, match="draw_graph: expected a Tensor, got ndarray"):
        viz.draw_graph(np.ones(2))


# ---- explain ---------------------------------------------------------------------------

def test_explain_lists_ops_in_the_order_backward_runs_them():
    model, loss = mlp_loss()
    text = viz.explain(loss, model=model)
    listed = re.findall(r"^step \d+  (\w+)", text, flags=re.M)
    ran = []
    for t in _topological_order([loss]):   # record the order backward really calls the rules
        node = t._ctx

        def spy(grad, node=node, rule=node.backward):
            ran.append(node.name)
            return rule(grad)
        node.backward = spy
    loss.backward()
    assert listed == ran
    assert sorted(ran) == ["CrossEntropy", "Linear", "Linear", "ReLU"]


def test_explain_shows_shapes_sizes_and_where_each_gradient_goes():
    model, loss = mlp_loss()
    text = viz.explain(loss, model=model)
    assert "step 1  CrossEntropy: dx = (softmax(x) - y) * g / N" in text
    assert re.search(r"g +\(\) +1 value +the seed: d\(loss\)/d\(loss\) = 1", text)
    assert re.search(r"step 2  Linear \[fc2\]: dx = g @ W, dW = g\^T @ x, db = g summed over "
                     r"the batch\n +g +\(4, 3\) +12 values +from step 1\n +dx +\(4, 5\) +20 "
                     r"values +-> step 3 \(ReLU output\)\n +dW +\(3, 5\) +15 values +-> "
                     r"fc2.weight.grad\n +db +\(3,\) +3 values +-> fc2.bias.grad\n", text)
    x, b = Tensor([[1.0, 2.0]], requires_grad=True), Tensor([1.0, 2.0], requires_grad=True)
    assert re.search(r"dy +\(2,\) +2 values +-> \.grad of the parameter \(2,\) \(summed from "
                     r"\(1, 2\) over the broadcast dims\)", viz.explain((x + b).sum()))
    assert re.search(r"dx +\(4, 6\) +- +not computed: x needs no grad", text)
    assert text.endswith("Leaves that receive .grad: fc2.weight (3, 5), fc2.bias (3,), "
                         "fc1.weight (5, 6), fc1.bias (5,)")


def test_explain_sums_a_gradient_that_arrives_along_two_paths():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    text = viz.explain((y * y).sum())
    assert re.search(r"step 3  Exp: dx = g \* out\n +g +\(2,\) +2 values +the sum of steps 2 "
                     r"and 2", text)


def test_explain_needs_a_tensor_that_requires_grad():
    with pytest.raises(GraphError, match="explain: this tensor does not require grad"):
        viz.explain(Tensor([1.0]) * 2)


# ---- text_graph ------------------------------------------------------------------------

def test_text_graph_of_a_small_expression():
    *_, e = scalar_expression()
    assert viz.text_graph(e) == (
        "e = ReLU  (1,) float32\n"
        "└── Add  (1,) float32\n"
        "    ├── Mul  (1,) float32\n"
        "    │   ├── a  (1,) float32  parameter\n"
        "    │   └── b  (1,) float32  parameter\n"
        "    └── c  (1,) float32  parameter")


def test_text_graph_draws_a_shared_value_once():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.name = "x"
    y = x.exp()
    assert viz.text_graph((y * y) * 0.5) == (
        "Mul  (2,) float32\n"
        "├── Mul  (2,) float32\n"
        "│   ├── [1] Exp  (2,) float32\n"
        "│   │   └── x  (2,) float32  parameter\n"
        "│   └── [1] Exp (shown above)\n"
        "└── constant 0.5")


def test_text_graph_tags_module_ops():
    model, loss = mlp_loss()
    lines = viz.text_graph(loss, model=model).splitlines()
    assert lines[0] == "loss = CrossEntropy  () float32"
    assert lines[1] == "└── Linear [fc2]  (4, 3) float32"
    assert "ReLU [MLP]" in "\n".join(lines)


# ---- a property over random MLPs -------------------------------------------------------

@given(sizes=tst.layer_sizes(min_layers=1, max_layers=3, max_width=4))
def test_every_mlp_draws_its_layers_as_clusters_with_stable_ids(sizes):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers += [Linear(n_in, n_out, rng=i), ReLU()]
    net = Sequential(*layers[:-1])
    out = net(Tensor(np.ones((2, sizes[0]), dtype=np.float32))).sum()
    source = viz.draw_graph(out, collapse_modules=True, model=net)
    nodes, edges = graph_nodes(source.source)
    ops = _topological_order([out])
    assert sum(k.startswith("op") for k in nodes) == len(ops)
    assert len(edges) == sum(len(t._ctx.inputs) + 1 for t in ops)
    for i in range(0, len(layers) - 1, 2):
        where = {text.split()[0]: c for text, _, c in nodes.values()}
        assert where[f"{i}.weight"] == ["Sequential", f"{i} (Linear)"]
    assert viz.draw_graph(out, collapse_modules=True, model=net).source == source.source


# ---- rendering -------------------------------------------------------------------------

@needs_dot
@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"),
                                        ("pdf", b"%PDF")])
def test_render_writes_the_picture_and_the_dot_source(tmp_path, fmt, magic):
    *_, e = scalar_expression()
    out = viz.render(e, tmp_path / "pics" / "expr", format=fmt, show_rules=True)
    assert out == tmp_path / "pics" / f"expr.{fmt}"
    assert out.read_bytes().startswith(magic)
    assert (tmp_path / "pics" / "expr.dot").read_text() == viz.draw_graph(
        e, show_rules=True).source


@needs_dot
def test_render_takes_the_format_from_the_suffix(tmp_path):
    *_, e = scalar_expression()
    out = viz.render(viz.draw_graph(e), tmp_path / "expr.png")
    assert out.name == "expr.png" and out.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match=r"ends in \.png but format='svg'"):
        viz.render(e, tmp_path / "expr.png", format="svg")


@needs_dot
def test_the_digraph_displays_itself_in_jupyter():
    *_, e = scalar_expression()
    bundle = viz.draw_graph(e)._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


def test_render_without_dot_saves_the_source_and_says_how_to_install(tmp_path, monkeypatch):
    empty = tmp_path / "no-programs-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))     # graphviz can no longer find `dot`
    *_, e = scalar_expression()
    with pytest.raises(viz.GraphvizNotFoundError) as info:
        viz.render(e, tmp_path / "expr.svg")
    message = str(info.value)
    dot_file = tmp_path / "expr.dot"
    assert dot_file.read_text() == viz.draw_graph(e).source
    assert str(dot_file.resolve()) in message
    for advice in ("apt-get install graphviz", "brew install graphviz",
                   "conda install -c conda-forge graphviz", "dot -Tsvg"):
        assert advice in message
    assert not (tmp_path / "expr.svg").exists()


@needs_dot
def test_the_example_draws_both_graphs_offline(tmp_path, capsys):
    path = Path(__file__).resolve().parents[1] / "examples" / "draw_graph.py"
    spec = importlib.util.spec_from_file_location("draw_graph_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(["--out", str(tmp_path), "--batch", "2", "--hidden", "8"])
    for name in ("scalar_expression", "mlp_training_graph"):
        assert (tmp_path / f"{name}.svg").read_text().rstrip().endswith("</svg>")
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    printed = capsys.readouterr().out
    assert "step 1  CrossEntropy" in printed and "fc1.weight  (8, 784) float32" in printed


# ---- issue 16: after backward, the user's op names, render's suffix, graphs.md ----------

def test_first_04_draw_graph_after_a_plain_backward():
    a, b, c, e = scalar_expression()
    e.backward()                                   # no retain_graph: the values are freed
    nodes, edges = graph_nodes(viz.draw_graph(e, show_values=True).source)
    assert [nodes[f"op{i}"][0] for i in range(3)] == ["Mul", "Add", "ReLU"]
    assert len(edges) == 8
    assert nodes["t0"][0] == "a (1,) float32 value 2 grad -3"     # leaves keep value and grad
    assert nodes["t2"][0] == "(1,) float32 freed by backward"     # a * b: value and grad gone
    assert "dashed" in nodes["t2"][1]
    assert "freed by backward (value and grad gone)" in parse(
        viz.draw_graph(e).source)[0]["legend"][0]
    with pytest.raises(GraphError, match="freed by an earlier backward pass"):
        e.backward()                               # the engine still refuses a second pass


def test_first_04_text_graph_and_explain_after_a_plain_backward():
    *_, e = scalar_expression()
    before = viz.explain(e)
    e.backward()
    assert viz.text_graph(e) == (
        "e = ReLU  (1,) float32\n"
        "└── Add  (1,) float32  (freed)\n"
        "    ├── Mul  (1,) float32  (freed)\n"
        "    │   ├── a  (1,) float32  parameter\n"
        "    │   └── b  (1,) float32  parameter\n"
        "    └── c  (1,) float32  parameter")
    after = viz.explain(e).splitlines()
    assert after[3] == ("(A backward pass already ran and freed the values; the steps are as "
                        "it ran them.)")
    assert after[:3] + after[4:] == before.splitlines()


def test_first_04_an_mlp_after_backward_keeps_modules_names_and_order():
    model, loss = mlp_loss()
    live_text = viz.text_graph(loss, model=model)
    live = graph_nodes(viz.draw_graph(loss, model=model, collapse_modules=True).source)
    loss.backward()
    after = viz.text_graph(loss, model=model)
    assert after.replace("  (freed)", "").replace("  (value freed)", "") == live_text
    assert "x  (4, 6) float32  input  (value freed)" in after   # mlp_loss let go of x
    nodes, edges = graph_nodes(viz.draw_graph(loss, model=model, collapse_modules=True).source)
    assert edges == live[1] and nodes.keys() == live[0].keys()
    assert [c for *_, c in nodes.values()] == [c for *_, c in live[0].values()]
    (weight,) = [text for text, *_ in nodes.values() if text.startswith("fc1.weight")]
    assert re.fullmatch(r"fc1\.weight \(5, 6\) float32 grad norm \S+ range \[\S+, \S+\]", weight)


def test_first_04_retain_graph_with_retain_grads_still_shows_everything():
    *_, e = scalar_expression()
    viz.retain_grads(e).backward(retain_graph=True)
    source = viz.draw_graph(e, show_values=True).source
    assert "freed" not in source
    assert graph_nodes(source)[0]["t2"][0] == "(1,) float32 value -6 grad 1"


def test_first_04_a_freed_graph_keeps_no_intermediate_array_alive():
    x = Tensor(np.ones((64, 32), dtype=np.float32))          # data: no grad, held weakly
    w = Tensor(np.ones((32, 16), dtype=np.float32), requires_grad=True)
    h = (x @ w).relu()
    loss = (h * h).sum()
    arrays = [weakref.ref(a) for a in (x.data, h.data, h._ctx.inputs[0].data)]
    del x, h
    loss.backward()
    assert [ref() for ref in arrays] == [None, None, None]    # no gc.collect() needed
    text = viz.text_graph(loss)
    assert "(64, 32) float32  input  (value freed)" in text
    assert text.count("(freed)") == 3 and "(32, 16) float32  parameter" in text


def test_first_04_an_intermediate_the_user_still_holds_is_shown_live():
    x = Tensor([1.0, -2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    loss = h.relu().sum()
    loss.backward()
    nodes, _ = graph_nodes(viz.draw_graph(loss, show_values=True).source)
    assert nodes["t2"][0] == "(2,) float32 mean -1.5, std 4.5 grad norm 1 range [0, 1]"


def test_first_06_transpose_and_mean_are_drawn_as_written():
    x = Tensor(np.ones((5, 2, 3)), requires_grad=True)
    w = Tensor(np.ones((4, 3)), requires_grad=True)
    y = (x @ w.T).transpose(0, 1).mean()
    assert viz.text_graph(y) == (
        "Mean  () float64\n"
        "└── Transpose  (2, 5, 4) float64\n"
        "    └── MatMul  (5, 2, 4) float64\n"
        "        ├── (5, 2, 3) float64  parameter\n"
        "        └── T  (3, 4) float64\n"
        "            └── (4, 3) float64  parameter")
    ops_drawn = [v[0] for k, v in graph_nodes(viz.draw_graph(y, show_rules=True).source)[0]
                 .items() if k.startswith("op")]
    assert ops_drawn == ["T dx = g.T", "MatMul dx = g @ y^T dy = x^T @ g",
                         "Transpose dx = g with the same two dims swapped back",
                         "Mean dx = g / N expanded back to x's shape (N values averaged)"]
    assert re.search(r"step 1  Mean: .*\n +g +\(\) .*\n +dx +\(2, 5, 4\) +40 values +-> step 2 "
                     r"\(Transpose output\)", viz.explain(y))


def test_first_06_a_sum_times_another_number_stays_a_sum_and_a_mul():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    assert viz.text_graph(x.sum() * 0.5).splitlines()[:2] == [
        "Mul  () float64", "├── Sum  () float64"]
    assert viz.text_graph(x.mean(1)).splitlines()[0] == "Mean  (2,) float64"


def test_first_06_rules_show_only_the_inputs_that_need_a_gradient():
    x = Tensor([2.0, 3.0], requires_grad=True)
    nodes, _ = graph_nodes(viz.draw_graph((x ** 2).sum(), show_rules=True).source)
    assert nodes["op0"][0] == "Pow dx = g * y * x^(y-1)"          # no ln(x): 2 is a constant
    nodes, _ = graph_nodes(viz.draw_graph((2.0 ** x).sum(), show_rules=True).source)
    assert nodes["op0"][0] == "Pow dy = g * out * ln(x)"
    both = viz.explain((x ** x).sum())
    assert "Pow: dx = g * y * x^(y-1), dy = g * out * ln(x)" in both


@needs_dot
@pytest.mark.parametrize("name, magic", [("a.jpg", b"\xff\xd8"), ("a.jpeg", b"\xff\xd8"),
                                         ("a.gif", b"GIF8"), ("a.PNG", b"\x89PNG")])
def test_first_05_render_takes_the_format_from_the_suffix(tmp_path, name, magic):
    *_, e = scalar_expression()
    out = viz.render(e, tmp_path / name)
    assert out == tmp_path / name and out.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "a.dot"])


def test_first_05_render_refuses_a_suffix_that_is_no_format(tmp_path):
    *_, e = scalar_expression()
    with pytest.raises(ValueError, match=r"render: '.*a\.bmp' ends in \.bmp, which is not a "
                                         r"format render writes; end the path in one of \.svg, "
                                         r"\.png, \.pdf, \.jpg, \.jpeg, \.gif, or pass format="):
        viz.render(e, tmp_path / "a.bmp")
    assert list(tmp_path.iterdir()) == []                      # nothing written
    with pytest.raises(ValueError, match=r"format must be one of .*got 'bmp'"):
        viz.render(e, tmp_path / "a", format="bmp")


GRAPHS_MD = Path(__file__).resolve().parents[1] / "docs" / "graphs.md"


def _example():
    path = Path(__file__).resolve().parents[1] / "examples" / "draw_graph.py"
    spec = importlib.util.spec_from_file_location("draw_graph_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def test_first_03_every_listing_in_graphs_md_is_what_the_code_prints(tmp_path, monkeypatch):
    blocks = re.findall(r"^```text\n(.*?)^```", GRAPHS_MD.read_text(), flags=re.S | re.M)
    assert len(blocks) >= 6 and all(b.startswith(">>> ") for b in blocks)  # none unchecked
    example = _example()
    model, loss = example.mlp_training_step([784, 128, 10], 8)       # the pictures' graphs
    names = {"viz": viz, "Tensor": Tensor, "e": example.scalar_expression(), "model": model,
             "loss": loss}
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "no-programs-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))     # the render listing shows a machine without dot
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    parser = doctest.DocTestParser()
    report = []
    for i, block in enumerate(blocks):
        # a blank line inside printed output is doctest's <BLANKLINE>; one before >>> ends it
        block = re.sub(r"^\n(?!>>> |\Z)", "<BLANKLINE>\n", block, flags=re.M)
        runner.run(parser.get_doctest(block, dict(names), f"graphs.md text block {i}",
                                      str(GRAPHS_MD), 0), out=report.append)
    assert runner.failures == 0, "".join(report)


def test_first_03_the_rules_table_in_graphs_md_is_the_dictionary():
    text = GRAPHS_MD.read_text()
    table = dict(re.findall(r"^\| `(\w+)` \| `(.*)` \|$", text[text.index("| op | rule |"):],
                            flags=re.M))
    assert table == {**viz.BACKWARD_RULES, **graph_module._DISPLAY_RULES}
