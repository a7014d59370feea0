"""The backward pass as a page you can step through: recorded from the real walk.

`backward_player(loss)` runs `loss.backward()` with a recorder listening (see
`autograd._recording`): after each rule it stores the op, its node, the gradient that
arrived and the gradient sent to each input, in the order the walk ran them. The page
(`player.html` beside this file, filled in here) shows the graph laid out by graphviz, as
`draw_graph` draws it, and steps through those records; nothing is derived afterwards.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from pathlib import Path

import graphviz
import numpy as np

from .. import autograd
from ..errors import GraphError
from ..shapes import sum_to
from ..tensor import Tensor
from .draw import (
    _CLUSTER_FILLS,
    _FONT,
    _STYLES,
    GraphvizNotFoundError,
    _add_legend,
    _cluster_tree,
    _esc,
    _homes,
    _kind_drawn,
    _op_label,
    _small,
    _style_cluster,
    _tensor_label,
)
from .graph import _Graph, _Modules, _Op

# A gradient of at most this many elements is shown (and stored in the page) value by value;
# a larger one by its shape, norm, min and max, and a heatmap of at most _HEAT x _HEAT cells.
SMALL = 16
_HEAT = 32


# ---- what one gradient looks like in the page --------------------------------------------

def _summary(a: np.ndarray) -> dict:
    """Shape, dtype, norm, min and max of a gradient; its values when it is small, else a
    heatmap (block means) of a 1-D or 2-D one."""
    a = np.asarray(a)
    out: dict = {"shape": list(a.shape), "dtype": str(a.dtype)}
    with np.errstate(all="ignore"):  # NaN or Inf gradients give NaN statistics, shown as such
        f = a.astype(np.float64)
        out["norm"] = float(np.sqrt(np.sum(f * f)))
        out["min"] = float(f.min()) if f.size else 0.0
        out["max"] = float(f.max()) if f.size else 0.0
        if a.size <= SMALL:
            out["values"] = a.tolist()
        elif a.ndim in (1, 2):
            out["heat"] = _heatmap(f.reshape(1, -1) if a.ndim == 1 else f)
    return out


def _heatmap(f: np.ndarray) -> dict:
    """Block means of a 2-D array, at most _HEAT cells a side, rounded to 4 digits."""
    rows, cols = f.shape
    r_edges = np.linspace(0, rows, min(rows, _HEAT) + 1).astype(int)
    c_edges = np.linspace(0, cols, min(cols, _HEAT) + 1).astype(int)
    cells = np.add.reduceat(np.add.reduceat(f, r_edges[:-1], axis=0), c_edges[:-1], axis=1)
    cells /= np.outer(np.diff(r_edges), np.diff(c_edges))
    return {"rows": len(r_edges) - 1, "cols": len(c_edges) - 1,
            "data": [float(f"{v:.4g}") for v in cells.ravel()]}


def _fit(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The gradient a rule returned, as the engine stores it for the input: summed over the
    dims broadcast in forward, then cast to the input's dtype (`autograd._fit`)."""
    if g.shape != x.shape:
        g = sum_to(g, x.shape)
    return g.astype(x.dtype) if g.dtype != x.dtype else g


# ---- the recorder ------------------------------------------------------------------------

class _Recorder:
    """Called by the walk after each rule; keeps one JSON-ready record per call, in order."""

    def __init__(self, graph: _Graph, modules: _Modules, drawn: dict[str, str],
                 edges: set[tuple[str, str]], leaf_keys: dict[int, str]):
        self.graph, self.modules, self.drawn, self.edges = graph, modules, drawn, edges
        self.leaf_keys = leaf_keys
        self.op_of_output = {id(out): op_id for op_id, _, out in graph.ops}
        self.steps: list[dict] = []
        self.senders: dict[int, list[int]] = {}  # id(tensor) -> steps that sent it gradient
        self.sums: dict[int, np.ndarray] = {}  # id(leaf) -> its gradients so far, summed
        self.before = {key: t._grad.data for t in graph.tensors
                       if (key := leaf_keys.get(id(t))) is not None and t._grad is not None}

    def __call__(self, t: Tensor, node, g: Tensor, in_grads: tuple) -> None:
        number = len(self.steps) + 1
        op_id = self.op_of_output.get(id(t))
        if op_id is None:
            raise GraphError(f"backward_player: the walk ran {node.name}'s rule for a tensor of "
                             f"shape {t.shape} that is not in the graph drawn from the root")
        shown = self.graph.op_of.get(id(t))
        if shown is None or shown.node is not node:
            shown = _Op(node, node.name, tuple(node.inputs), node.needs_input_grad)
        here = self.drawn[op_id]
        step = {"op": node.name, "label": shown.name, "node": here, "op_id": op_id,
                "module": self.modules.label(node.module) if node.module is not None else None,
                "rule": shown.rule, "grad_in": _summary(g.data),
                "from": self.senders.get(id(t), []), "out": self._id(t),
                "grads_out": [], "edges": [], "leaves": {}}
        out_drawn = self.drawn.get(self.graph.ids.get(id(t), op_id), here)
        if (here, out_drawn) in self.edges:
            step["edges_in"] = [f"{here}->{out_drawn}"]
        for arg, x, gx, need in zip(shown.args, node.inputs, in_grads,  # noqa: B905
                                    node.needs_input_grad):
            if gx is None or not need:
                continue
            fitted = _fit(gx.data, x.data)
            target = self._id(x)
            to = self.drawn.get(target, here) if target else here
            sent = {"to": to, "tensor": target, "arg": arg, "name": self._name(x),
                    **_summary(fitted)}
            if gx.shape != x.shape:
                sent["summed_from"] = list(gx.shape)
            step["grads_out"].append(sent)
            if (to, here) in self.edges and f"{to}->{here}" not in step["edges"]:
                step["edges"].append(f"{to}->{here}")
            self.senders.setdefault(id(x), []).append(number)
            key = self.leaf_keys.get(id(x))
            if key is not None:  # a leaf: its .grad fills up (the engine's order of sums)
                total = self.sums.get(id(x))
                total = fitted.copy() if total is None else total + fitted
                self.sums[id(x)] = total
                old = self.before.get(key)
                shown_sum = total if old is None else np.asarray(old + total)
                step["leaves"][key] = {**_summary(shown_sum),
                                       "parts": list(self.senders[id(x)])}
        self.steps.append(step)

    def _id(self, t) -> str | None:
        return self.graph.ids.get(id(t))

    def _name(self, t) -> str:
        name = self.modules.name(t)
        if name:
            return name
        op = self.graph.op_of.get(id(t))
        tid = self._id(t)
        return f"{op.name} output ({tid})" if op is not None else (tid or "a value not drawn")


# ---- the picture: draw_graph's look, with clusters collapsed past max_nodes ---------------

def _collapse_plan(graph: _Graph, modules: _Modules, max_nodes: int):
    """(drawn id of each node, the collapsed modules {id(module): drawn id}, cluster tree).

    Within `max_nodes` nothing collapses. Past it, module clusters become one node each,
    innermost first: modules with no sub-module in the picture, then their parents, and so
    on, until the picture fits. A constant used only inside one collapsed module goes with it.
    """
    home = _homes(graph)
    tree = _cluster_tree(home.values(), modules)
    number = {id(m): n for children in tree.values() for n, m in children}
    parent = {id(m): key for key, children in tree.items() for _, m in children}
    height: dict[int, int] = {}
    for key in sorted(number, key=number.get, reverse=True):  # children were numbered later
        height[key] = 1 + max((height[id(m)] for _, m in tree[key]), default=-1)

    def plan(level: int | None):
        collapsed = {} if level is None else {
            key: f"m{number[key]}" for key in number
            if height[key] <= level and (parent[key] is None or height[parent[key]] > level)}
        drawn: dict[str, str] = {}
        for node_id in graph.sequence:
            m = home.get(node_id)
            key = None if m is None else id(m)
            while key is not None and key not in collapsed:
                key = parent[key]
            drawn[node_id] = node_id if key is None else collapsed[key]
        users: dict[str, set[str]] = {}
        for op_id, op, _ in graph.ops:
            for x in op.inputs:
                users.setdefault(graph.ids[id(x)], set()).add(drawn[op_id])
        for t in graph.tensors:
            tid = graph.ids[id(t)]
            homes = users.get(tid, set())
            if graph.kind(t) == "constant" and len(homes) == 1 and next(iter(homes))[0] == "m":
                drawn[tid] = next(iter(homes))
        return drawn, collapsed

    drawn, collapsed = plan(None)
    levels = sorted(set(height.values()))
    for level in levels:
        if len(set(drawn.values())) <= max_nodes:
            break
        drawn, collapsed = plan(level)
    count = len(set(drawn.values()))
    if count > max_nodes:
        whole = len(graph.sequence)
        why = (f"even with every module collapsed ({count})" if levels else
               "and no module cluster to collapse")
        raise ValueError(
            f"backward_player: the graph has {whole} nodes (tensors plus ops), more than "
            f"max_nodes={max_nodes}, {why}. Play a smaller part (one layer's loss), build the "
            f"model from nn.Modules (each collapses into one node), or pass "
            f"max_nodes={count} to draw it anyway")
    return drawn, collapsed, tree


def _dot(graph: _Graph, modules: _Modules, drawn: dict[str, str], collapsed: dict[int, str],
         tree, direction: str, title: str | None) -> tuple[graphviz.Digraph, set]:
    """The DOT picture (draw_graph's styles and clusters) and its edges (tail, head)."""
    dot = graphviz.Digraph(
        name="backward_player",
        graph_attr={"rankdir": direction, "fontname": _FONT, "nodesep": "0.25",
                    "ranksep": "0.3", "bgcolor": "white", "pad": "0.2"},
        node_attr={"fontname": _FONT, "fontsize": "11", "margin": "0.1,0.04", "height": "0.3",
                   "penwidth": "1.2"},
        edge_attr={"color": "#555555", "arrowsize": "0.6"})
    if title:
        dot.attr(label=graphviz.nohtml(title), labelloc="t", fontsize="16")
    home = _homes(graph)
    attrs: dict[str, dict[str, str]] = {}
    for t in graph.tensors:
        tid = graph.ids[id(t)]
        label = _tensor_label(t, modules.name(t), graph.kind(t), False, False)
        attrs[tid] = {"label": label, **_STYLES[_kind_drawn(graph, t)]}
    for op_id, op, _ in graph.ops:
        attrs[op_id] = {"label": _op_label(op, False), **_STYLES["op"]}
    members: dict[int | None, list[str]] = {}
    for node_id in graph.sequence:
        if drawn[node_id] == node_id:
            m = home.get(node_id)
            members.setdefault(None if m is None else id(m), []).append(node_id)
    inside: dict[str, int] = {}  # a collapsed node -> how many ops it holds
    for op_id, _, _ in graph.ops:
        if drawn[op_id] != op_id:
            inside[drawn[op_id]] = inside.get(drawn[op_id], 0) + 1

    def emit(sub: graphviz.Digraph, key: int | None, depth: int) -> None:
        for node_id in members.get(key, []):
            sub.node(node_id, id=f"n_{node_id}", **attrs[node_id])
        for number, m in tree[key]:
            if id(m) in collapsed:
                cid = collapsed[id(m)]
                label = (f"<<B>{_esc(modules.label(m))}</B><BR/>"
                         f"{_small(_count(inside.get(cid, 0), 'op') + ', collapsed')}>")
                sub.node(cid, id=f"n_{cid}", label=label, shape="box", style="rounded,filled",
                         color="#A7B4C6", fillcolor=_CLUSTER_FILLS[depth % len(_CLUSTER_FILLS)],
                         penwidth="2")
                continue
            with sub.subgraph(name=f"cluster_{number}") as c:
                _style_cluster(c, modules.label(m), depth)
                emit(c, id(m), depth + 1)

    emit(dot, None, 0)
    edges: dict[tuple[str, str], None] = {}
    for op_id, op, out in graph.ops:
        for x in op.inputs:
            edges[(drawn[graph.ids[id(x)]], drawn[op_id])] = None
        edges[(drawn[op_id], drawn[graph.ids[id(out)]])] = None
    for tail, head in edges:
        if tail != head:
            dot.edge(tail, head, id=f"e_{tail}__{head}")
    present = {_kind_drawn(graph, t) for t in graph.tensors} | ({"op"} if graph.ops else set())
    _add_legend(dot, [kind for kind in _STYLES if kind in present], direction)
    return dot, {e for e in edges if e[0] != e[1]}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


_SVG_NODE = re.compile(r'<g id="n_([A-Za-z0-9_]+)" class="node"')
_SVG_EDGE = re.compile(r'<g id="e_([A-Za-z0-9_]+)__([A-Za-z0-9_]+)" class="edge"')


def _svg(dot: graphviz.Digraph) -> str:
    """The inline SVG: no XML prologue, each node tagged with its graph id (`data-node`),
    each edge with `data-edge="tail->head"`."""
    try:
        text = dot.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(
            "backward_player: the Graphviz program `dot` was not found on PATH; the player "
            "needs it to lay the graph out. Install Graphviz (the program, not only the Python "
            "package): `sudo apt-get install graphviz` on Debian/Ubuntu, `brew install "
            "graphviz` on macOS, `conda install -c conda-forge graphviz` in conda") from None
    text = text[text.index("<svg"):]
    text = _SVG_NODE.sub(r'<g id="n_\1" data-node="\1" class="node"', text)
    return _SVG_EDGE.sub(r'<g id="e_\1__\2" data-edge="\1->\2" class="edge"', text)


# ---- the page ------------------------------------------------------------------------------

def _js(value) -> str:
    """A JavaScript literal for `value` (NaN and Infinity included), safe inside <script>."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


class BackwardPlayer:
    """A recorded backward pass and the page that plays it (see `backward_player`).

    Attributes
    ----------
    steps : list of dict
        One record per rule call, in the order the walk ran them (`window.backwardSteps`).
    leaf_grads : dict
        Each leaf's `.grad` at the end of the walk, as the page shows it
        (`window.leafGrads`): name (or graph id) -> shape, values_or_norm, norm, min, max.
    html : str
        The whole page: one self-contained HTML document.
    """

    def __init__(self, html_text: str, steps: list[dict], leaf_grads: dict):
        self.html, self.steps, self.leaf_grads = html_text, steps, leaf_grads

    def save(self, path: str | Path) -> Path:
        """Write the page to `path` (UTF-8) and return it."""
        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(f"BackwardPlayer.save: {str(path)!r} is a folder; give a "
                                    "file path ending in .html")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        # In an iframe, so two players in one notebook keep their ids and globals apart.
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                'style="width:100%;height:680px;border:1px solid #ddd" '
                'title="backward player"></iframe>')

    def __repr__(self) -> str:
        return f"<BackwardPlayer: {len(self.steps)} rule calls, {len(self.leaf_grads)} leaves>"


def _leaf_keys(graph: _Graph, modules: _Modules) -> dict[int, str]:
    """Each leaf that requires grad -> its key in the page: its name, else its graph id (and
    the id after the name when two leaves share one)."""
    leaves = [t for t in graph.tensors if graph.kind(t) == "parameter"]
    names = [modules.name(t) for t in leaves]
    keys = {}
    for t, name in zip(leaves, names, strict=True):
        tid = graph.ids[id(t)]
        keys[id(t)] = tid if not name else name if names.count(name) == 1 else f"{name} ({tid})"
    return keys


def _final_leaves(recorder: _Recorder) -> dict:
    state = {key: _summary(a) for key, a in recorder.before.items()}
    for step in recorder.steps:
        state.update(step["leaves"])
    return {key: {**s, "values_or_norm": s["values"] if "values" in s else s["norm"]}
            for key, s in state.items()}


def _page(title: str, svg: str, steps: list[dict], meta: dict) -> str:
    template = resources.files(__package__).joinpath("player.html").read_text(encoding="utf-8")
    data = f"window.backwardSteps = {_js(steps)};\nconst PLAYER = {_js(meta)};"
    return (template.replace("__TITLE__", html.escape(title))
            .replace("__SVG__", svg).replace("__DATA__", data))


# ---- public ------------------------------------------------------------------------------

def backward_player(root: Tensor, *, gradient=None, model=None, max_nodes: int = 600,
                    direction: str = "LR", title: str | None = None,
                    retain_graph: bool = False) -> BackwardPlayer:
    """Run `root.backward()` with a recorder on, and make a page that replays the walk.

    The page (one self-contained HTML file: inline SVG, CSS and JavaScript, no server, no
    internet) shows the graph as `draw_graph` draws it, with Prev / Next / Play / Reset, a
    slider and the arrow keys. Each step is one rule call, in the order backward ran them:
    the op is highlighted, the edges carrying its gradients move, and a side panel shows the
    rule, the gradient that arrived and each gradient sent (values up to 16 elements, else
    shape, norm, min, max and a heatmap). The leaves' `.grad` fill up step by step; a leaf
    reached along several paths shows each part and their sum. In Jupyter the returned
    object displays the page.

    The recorded walk is the real one: the leaves' `.grad` are updated as by
    `root.backward(gradient, retain_graph)`.

    Parameters
    ----------
    root : Tensor
        The output to backpropagate from (usually the loss), with its graph not yet freed.
    gradient : Tensor or array, optional
        d(final)/d(root) for a root with more than one element, as in `backward`.
    model : Module, optional
        Names parameters and clusters by their paths in it (as `draw_graph`).
    max_nodes : int
        Past this many nodes (tensors plus ops), module clusters collapse into one node each
        (innermost first); that node steps as a unit. ValueError if it is still too many.
    direction : {"LR", "TB"}
        Data flows left to right, or top to bottom.
    title : str, optional
        The page's heading; by default it names the root and counts the rule calls.
    retain_graph : bool
        Keep the graph after the walk, as in `backward`.

    Returns
    -------
    BackwardPlayer
        `.html` (the page), `.steps` and `.leaf_grads` (as the page holds them in
        `window.backwardSteps` and `window.leafGrads`), `.save(path)`.

    Raises
    ------
    GraphError
        If `root` is a leaf, does not require grad, or its graph was freed by an earlier
        backward; nothing is run then.
    ValueError
        If the graph has more than `max_nodes` nodes even with every module collapsed.
    GraphvizNotFoundError
        If the Graphviz program `dot` is missing; backward has not run then.

    Examples
    --------
    >>> from tinygrad_edu import Tensor, viz
    >>> a = Tensor([2.0], requires_grad=True)
    >>> b = Tensor([-3.0], requires_grad=True)
    >>> player = viz.backward_player((a * b + a).sum())
    >>> [(step["op"], step["node"]) for step in player.steps]
    [('Sum', 'op2'), ('Add', 'op1'), ('Mul', 'op0')]
    >>> player.leaf_grads["t0"]["values_or_norm"], a.grad      # a: reached on two paths
    ([-2.0], Tensor([-2.], dtype=float32))
    """
    if direction not in ("LR", "TB"):
        raise ValueError(f"backward_player: direction must be 'LR' or 'TB', got {direction!r}")
    if not isinstance(root, Tensor):
        raise TypeError(f"backward_player: expected a Tensor, got {type(root).__name__}")
    if root._ctx is None:
        raise GraphError(f"backward_player: the tensor (shape {root.shape}) is a leaf, so "
                         "backward runs no rule to show; pass the result of an op (the loss)")
    if root._ctx.inputs is None:
        raise GraphError(
            "backward_player: the graph behind this tensor was freed by an earlier "
            ".backward(); the player runs backward itself, so call it instead of "
            "loss.backward() (or pass retain_graph=True to the earlier backward)")
    if not root.requires_grad:
        raise GraphError(f"backward_player: the tensor (shape {root.shape}) does not require "
                         "grad; create the inputs with requires_grad=True")
    graph = _Graph(root, "backward_player", max_nodes=np.iinfo(np.int64).max)
    modules = _Modules(graph, model)
    drawn, collapsed, tree = _collapse_plan(graph, modules, max_nodes)
    dot, edges = _dot(graph, modules, drawn, collapsed, tree, direction, None)
    svg = _svg(dot)  # before backward: a missing `dot` changes nothing
    recorder = _Recorder(graph, modules, drawn, edges, _leaf_keys(graph, modules))
    saved = getattr(autograd._recording, "recorder", None)
    autograd._recording.recorder = recorder
    try:
        root.backward(gradient, retain_graph=retain_graph)
    finally:
        autograd._recording.recorder = saved
    steps = recorder.steps
    name = modules.name(root) or "the output"
    heading = title or (f"Backward pass from {name} (shape {tuple(root.shape)}): "
                        f"{len(steps)} rule calls")
    ids = {key: graph.ids[tensor_id] for tensor_id, key in recorder.leaf_keys.items()}
    meta = {"before": {key: _summary(a) for key, a in recorder.before.items()},
            "root": {"node": drawn[graph.ids[id(root)]], "name": name,
                     "collapsed": len(collapsed), "nodes": len(graph.sequence)},
            "leaves": {key: {"id": tid, "node": drawn[tid]} for key, tid in ids.items()},
            "leafIds": {tid: key for key, tid in ids.items()}}
    return BackwardPlayer(_page(heading, svg, steps, meta), steps, _final_leaves(recorder))


def save_backward_player(root: Tensor, path: str | Path, *, max_nodes: int = 600,
                         **options) -> Path:
    """Run `root.backward()` recorded, and write the player page to `path` (one HTML file).

    The page opens from disk in any browser, with no server and no internet. See
    `backward_player` for the page and the options (`gradient`, `model`, `direction`,
    `title`, `retain_graph`).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tinygrad_edu import Tensor, viz
    >>> x = Tensor([1.0, -2.0], requires_grad=True)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = viz.save_backward_player((x * x).sum(), pathlib.Path(folder) / "sq.html")
    >>> path.name, x.grad
    ('sq.html', Tensor([ 2., -4.], dtype=float32))
    """
    path = Path(path)
    if path.is_dir():  # before the walk: a refused path changes no .grad
        raise IsADirectoryError(f"save_backward_player: {str(path)!r} is a folder; give a file "
                                "path ending in .html")
    return backward_player(root, max_nodes=max_nodes, **options).save(path)
