"""draw_graph: the computation graph as a graphviz picture; render: write it to a file."""

from __future__ import annotations

import html
import re
from pathlib import Path

import graphviz
import numpy as np

from ..errors import TinygradEduError
from ..tensor import Tensor
from .graph import (
    _grad_stats,
    _Graph,
    _Modules,
    _num,
    _Op,
    _shape,
    _value_stats,
    is_freed,
)

# Kind of graph node -> graphviz attributes. Okabe-Ito hues (safe for colour blindness),
# and a shape or border per kind so a greyscale print still tells them apart.
_STYLES: dict[str, dict[str, str]] = {
    "parameter": {"shape": "box", "style": "rounded,filled,bold", "fillcolor": "#FBD89F",
                  "color": "#B86E00"},
    "input": {"shape": "box", "style": "filled", "fillcolor": "#CFE6F7", "color": "#2F74B5"},
    "constant": {"shape": "box", "style": "filled,dashed", "fillcolor": "#FFFFFF",
                 "color": "#8C8C8C", "fontsize": "9"},
    "intermediate": {"shape": "box", "style": "rounded,filled", "fillcolor": "#F2F2F2",
                     "color": "#8C8C8C"},
    "freed": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#FAFAFA",
              "color": "#8C8C8C", "fontcolor": "#555555"},
    "output": {"shape": "box", "style": "rounded,filled", "peripheries": "2",
               "fillcolor": "#BDE8D3", "color": "#12845A"},
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#E4DAF4", "color": "#6B4FA6"},
}
_LEGEND = {"parameter": "parameter (leaf, requires grad)", "input": "input (leaf, no grad)",
           "constant": "constant", "intermediate": "intermediate value",
           "freed": "freed by backward (value and grad gone)",
           "output": "output", "op": "op"}
_CLUSTER_FILLS = ("#F7F9FC", "#EDF1F7", "#E3E9F2")
_FONT = "Helvetica,Arial,sans-serif"

class GraphvizNotFoundError(TinygradEduError, graphviz.ExecutableNotFound):
    """The Graphviz program `dot` is not installed, so only the DOT source could be saved."""

    def __init__(self, message: str):
        RuntimeError.__init__(self, message)

# ---- draw_graph ------------------------------------------------------------------------

def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _small(text: str, color: str = "#444444") -> str:
    return f'<FONT POINT-SIZE="9" COLOR="{color}">{_esc(text)}</FONT>'


def _tensor_label(t, name: str | None, kind: str, show_values: bool,
                  show_grads: bool) -> str:
    if kind == "constant":
        rows = [f"<B>{_esc(_num(float(t.data.astype(np.float64).item())))}</B>"]
    else:
        rows = [f"<B>{_esc(name)}</B>"] if name else []
        rows.append(_small(f"{_shape(t)} {t.dtype}", "#222222"))
        if is_freed(t):
            rows.append(_small("freed by backward", "#8C8C8C"))
        elif show_values:
            rows.append(_small(_value_stats(t.data)))
    if show_grads and t._grad is not None:
        text, bad = _grad_stats(t._grad.data)
        rows += [_small(line, "#C00000" if bad else "#7A3E00") for line in text.split("\n")]
    return "<" + "<BR/>".join(rows) + ">"


def _op_label(op: _Op, show_rules: bool) -> str:
    rows = [f"<B>{_esc(op.name)}</B>"]
    if show_rules:
        rows += [_small(part) for part in re.split(r", (?=d\w* = )", op.rule)]
    return "<" + "<BR/>".join(rows) + ">"


def draw_graph(tensor: Tensor, *, direction: str = "LR", show_values: bool = False,
               show_grads: bool = True, show_rules: bool = False,
               collapse_modules: bool = False, model=None, max_nodes: int = 300,
               title: str | None = None, legend: bool = True) -> graphviz.Digraph:
    """Draw the graph that made `tensor`: one node per tensor and per op, inputs to output.

    Works before and after `tensor.backward()`. A plain backward frees the intermediate values:
    they are drawn dashed, "freed by backward", and the leaves keep their values and `.grad`.
    Ops are named as written (`T`, `Transpose`, `Mean`, else the op's class).

    Parameters
    ----------
    tensor : Tensor
        The output to draw from (usually the loss); everything it depends on is drawn.
    direction : {"LR", "TB"}
        Data flows left to right, or top to bottom.
    show_values : bool
        Add each tensor's value (one element) or mean and std.
    show_grads : bool
        Add each tensor's gradient where it has one: the value, or the norm, min and max
        (red when NaN, Inf or all zero). See `retain_grads` to keep non-leaf gradients.
    show_rules : bool
        Add each op's backward rule (`BACKWARD_RULES`), for the inputs that need a gradient,
        and label its input edges x, y.
    collapse_modules : bool
        Put each module's ops (and parameters only it uses) in a labelled cluster.
    model : Module, optional
        Names parameters (`fc1.weight`) and clusters (`fc1 (Linear)`) by their path in it.
    max_nodes : int
        Raise ValueError, naming the count, for a bigger graph instead of an unreadable one.
    title : str, optional
        A caption at the top.
    legend : bool
        Add a small legend of the node kinds present.

    Returns
    -------
    graphviz.Digraph
        Its `.source` is the DOT text; node ids (`t0`, `op0`, ...) follow topological order,
        so the same graph gives the same text. Displays itself in Jupyter; see `render`.

    Raises
    ------
    ValueError
        If the graph has more than `max_nodes` nodes.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> g = draw_graph((w * 3).sum())
    >>> [line.strip() for line in g.source.splitlines() if "->" in line]
    ['t0 -> op0', 't1 -> op0', 'op0 -> t2', 't2 -> op1', 'op1 -> t3']
    """
    if direction not in ("LR", "TB"):
        raise ValueError(f"draw_graph: direction must be 'LR' or 'TB', got {direction!r}")
    graph = _Graph(tensor, "draw_graph", max_nodes)
    modules = _Modules(graph, model)
    dot = graphviz.Digraph(
        name="computation_graph",
        graph_attr={"rankdir": direction, "fontname": _FONT, "nodesep": "0.25",
                    "ranksep": "0.3", "bgcolor": "white", "pad": "0.2"},
        node_attr={"fontname": _FONT, "fontsize": "11", "margin": "0.1,0.04", "height": "0.3",
                   "penwidth": "1.2"},
        edge_attr={"color": "#555555", "arrowsize": "0.6", "fontname": _FONT,
                   "fontsize": "9", "fontcolor": "#6B4FA6"})
    if title:
        dot.attr(label=graphviz.nohtml(title), labelloc="t", fontsize="16")

    home = _homes(graph) if collapse_modules else {}
    members: dict[int | None, list[str]] = {}  # cluster (id of its module) -> node ids
    for node_id in graph.sequence:
        m = home.get(node_id)
        members.setdefault(None if m is None else id(m), []).append(node_id)
    attrs: dict[str, dict[str, str]] = {}
    for t in graph.tensors:
        kind = graph.kind(t)
        label = _tensor_label(t, modules.name(t), kind, show_values, show_grads)
        attrs[graph.ids[id(t)]] = {"label": label, **_STYLES[_kind_drawn(graph, t)]}
    for op_id, op, _ in graph.ops:
        attrs[op_id] = {"label": _op_label(op, show_rules), **_STYLES["op"]}
    clusters = _cluster_tree(home.values(), modules)

    def emit(sub: graphviz.Digraph, key: int | None, depth: int) -> None:
        for node_id in members.get(key, []):
            sub.node(node_id, **attrs[node_id])
        for number, m in clusters[key]:
            with sub.subgraph(name=f"cluster_{number}") as c:
                _style_cluster(c, modules.label(m), depth)
                emit(c, id(m), depth + 1)

    emit(dot, None, 0)
    for op_id, op, out in graph.ops:
        names = op.args
        for name, x in zip(names, op.inputs, strict=True):
            label = {"label": name} if show_rules and len(names) > 1 else {}
            dot.edge(graph.ids[id(x)], op_id, **label)
        dot.edge(op_id, graph.ids[id(out)])
    if legend:
        present = {_kind_drawn(graph, t) for t in graph.tensors} | (
            {"op"} if graph.ops else set())
        _add_legend(dot, [kind for kind in _STYLES if kind in present], direction)
    return dot


def _kind_drawn(graph: _Graph, t) -> str:
    kind = graph.kind(t)
    return "freed" if kind == "intermediate" and is_freed(t) else kind


def _homes(graph: _Graph) -> dict[str, object]:
    """The module whose cluster each node sits in: an op and its output in the module that
    ran the op, a parameter in the one module that uses it; other nodes in none."""
    home: dict[str, object] = {}
    users: dict[int, dict[int, object]] = {}  # tensor -> the modules of the ops using it
    for op_id, op, out in graph.ops:
        if op.module is not None:
            home[op_id] = home[graph.ids[id(out)]] = op.module
        for x in op.inputs:
            users.setdefault(id(x), {})[id(op.module)] = op.module
    for t in graph.tensors:
        owners = list(users.get(id(t), {}).values())
        if graph.kind(t) == "parameter" and len(owners) == 1 and owners[0] is not None:
            home[graph.ids[id(t)]] = owners[0]
    return home


def _style_cluster(cluster: graphviz.Digraph, label: str, depth: int) -> None:
    """A module's box: its label top left, filled a shade darker at each level of nesting."""
    cluster.attr(label=label, labeljust="l", fontsize="11", style="rounded,filled",
                 color="#A7B4C6", fillcolor=_CLUSTER_FILLS[depth % len(_CLUSTER_FILLS)])


def _cluster_tree(used, modules: _Modules) -> dict[int | None, list[tuple[int, object]]]:
    """Parent (id of a module, None for the top) -> its child clusters (number, module).

    Every module used, inside the clusters of its ancestors (which exist even when they made
    no op themselves); numbered in order of first use, so the numbers are stable.
    """
    children: dict[int | None, list[tuple[int, object]]] = {None: []}
    for m in {id(m): m for m in used}.values():
        chain = [m]
        while (p := modules.parent(chain[-1])) is not None:
            chain.append(p)
        parent = None
        for a in reversed(chain):
            if id(a) not in children:
                children[parent].append((len(children) - 1, a))
                children[id(a)] = []
            parent = id(a)
    return children


def _add_legend(dot: graphviz.Digraph, kinds: list[str], direction: str) -> None:
    """One table-shaped node beside the output (the last rank), an entry per node kind:
    a column beside an LR graph, a row under a TB graph."""
    cells = ['<TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#666666">legend</FONT></TD>']
    for kind in kinds:
        style = _STYLES[kind]
        looks = [word.upper() for word in ("rounded", "dashed") if word in style["style"]]
        looks = ["ROUNDED"] if kind == "op" else looks
        rounded = f' STYLE="{",".join(looks)}"' if looks else ""
        border = "2" if "bold" in style["style"] else "1"
        entry = (f'<TABLE BORDER="{border}" CELLBORDER="0" CELLPADDING="2"{rounded} '
                 f'BGCOLOR="{style["fillcolor"]}" COLOR="{style["color"]}"><TR><TD>'
                 f'<FONT POINT-SIZE="9">{_esc(_LEGEND[kind])}</FONT></TD></TR></TABLE>')
        if kind == "output":  # a second border, like the node's peripheries=2
            entry = (f'<TABLE BORDER="1" CELLBORDER="0" CELLPADDING="1"{rounded} '
                     f'COLOR="{style["color"]}"><TR><TD>{entry}</TD></TR></TABLE>')
        cells.append(f"<TD>{entry}</TD>")
    body = ("<TR>" + "".join(cells) + "</TR>" if direction == "TB"
            else "".join(f"<TR>{cell}</TR>" for cell in cells))
    table = ('<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="3" STYLE="ROUNDED" '
             f'COLOR="#BBBBBB">{body}</TABLE>>')
    with dot.subgraph(name="legend") as sub:
        sub.attr(rank="max")
        sub.node("legend", label=table, shape="plain")


# ---- render ----------------------------------------------------------------------------

_FORMATS = ("svg", "png", "pdf", "jpg", "jpeg", "gif")


def render(graph_or_tensor: graphviz.Digraph | Tensor, path: str | Path,
           format: str | None = None, **options) -> Path:
    """Write the picture to `path` (SVG, PNG, PDF, JPEG or GIF) and its DOT source beside it.

    Parameters
    ----------
    graph_or_tensor : graphviz.Digraph or Tensor
        A graph from `draw_graph`, or a tensor to draw with `options` first.
    path : str or Path
        Where to write. Its suffix gives the format (`.svg`, `.png`, `.pdf`, `.jpg`/`.jpeg`,
        `.gif`); without a suffix (or with `.dot`) the picture is an SVG. The DOT source goes
        to the same path with the suffix `.dot`, even when rendering fails.
    format : {"svg", "png", "pdf", "jpg", "jpeg", "gif"}, optional
        Needed only for a path whose suffix is not a format (`graph.v2`); the format's suffix
        is then added (`graph.v2.png`).
    **options
        Passed to `draw_graph` when a tensor is given.

    Returns
    -------
    Path
        The picture written.

    Raises
    ------
    ValueError
        If the suffix names no format this function writes (and `format` is not given), or
        disagrees with `format`.
    GraphvizNotFoundError
        If the Graphviz program `dot` is not installed; the message says how to install it
        and where the `.dot` file was saved.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> render(Tensor([1.0], requires_grad=True) * 2, "graph.bmp")
    Traceback (most recent call last):
    ...
    ValueError: render: 'graph.bmp' ends in .bmp, which is not a format render writes; ...
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if format is not None and format not in _FORMATS:
        raise ValueError(f"render: format must be one of {_FORMATS}, got {format!r}")
    if format is None:
        if suffix and suffix not in _FORMATS + ("dot",):
            raise ValueError(
                f"render: {str(path)!r} ends in .{suffix}, which is not a format render writes; "
                f"end the path in one of {', '.join('.' + f for f in _FORMATS)}, or pass "
                "format= to add that format's suffix")
        format = suffix if suffix in _FORMATS else "svg"
    if suffix in _FORMATS and suffix != format:
        raise ValueError(f"render: the path ends in .{suffix} but format={format!r}; "
                         "make them agree (or leave format out)")
    stem = path.with_suffix("") if suffix in _FORMATS + ("dot",) else path
    if isinstance(graph_or_tensor, Tensor):
        graph = draw_graph(graph_or_tensor, **options)
    elif isinstance(graph_or_tensor, graphviz.Digraph):
        if options:
            raise TypeError(f"render: options {sorted(options)} apply only when drawing a "
                            "tensor; pass them to draw_graph instead")
        graph = graph_or_tensor
    else:
        raise TypeError(f"render: expected a graphviz.Digraph or a Tensor, got "
                        f"{type(graph_or_tensor).__name__}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    dot_path = stem.parent / (stem.name + ".dot")
    out_path = path if suffix == format else stem.parent / f"{stem.name}.{format}"
    dot_path.write_text(graph.source, encoding="utf-8")
    try:
        data = graph.pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(
            f"render: the Graphviz program `dot` was not found on PATH, so no {format.upper()} "
            f"was made. The DOT source is saved at {dot_path.resolve()}. Install Graphviz "
            "(the program, not only the Python package): `sudo apt-get install graphviz` on "
            "Debian/Ubuntu, `brew install graphviz` on macOS, `conda install -c conda-forge "
            "graphviz` in conda, or the installer from https://graphviz.org/download/ on "
            f"Windows; then render again, or run `dot -T{format} {dot_path} -o {out_path}`"
        ) from None
    out_path.write_bytes(data)
    return out_path
