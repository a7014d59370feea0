"""Text views that need no graphviz: text_graph (a tree), explain (the backward pass)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from .. import ops
from ..errors import GraphError
from ..tensor import Tensor
from .graph import _Graph, _Modules, _num, _numel, _shape, is_freed

# ---- text: the graph as a tree, the backward pass as steps ----------------------------

class _Text(str):
    """A str that shows itself as text at the prompt (no quotes, real line breaks)."""

    def __repr__(self) -> str:
        return str(self)


def _leaf_text(t, name: str | None, kind: str) -> str:
    if kind == "constant":
        return f"constant {_num(float(t.data.astype(np.float64).item()))}"
    gone = "  (value freed)" if is_freed(t) else ""
    return f"{name + '  ' if name else ''}{_shape(t)} {t.dtype}  {kind}{gone}"


def text_graph(tensor: Tensor, *, model=None, max_nodes: int = 300) -> str:
    """The graph behind `tensor` as an indented tree: the output on top, inputs below.

    A value used twice is drawn once, tagged `[1]`, and referred to by its tag afterwards.
    After a plain backward, the values it freed are tagged `(freed)`. Needs no graphviz.

    Parameters
    ----------
    tensor : Tensor
        The output to start from.
    model : Module, optional
        Names parameters and modules by their paths in it (see `draw_graph`).
    max_nodes : int
        Raise ValueError for a graph with more nodes (tensors plus ops).

    Returns
    -------
    str
        One line per tensor; it prints itself without quotes at the prompt.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> a, b, c = (Tensor([1.0, 2.0], requires_grad=True) for _ in range(3))
    >>> a.name, b.name, c.name = "a", "b", "c"
    >>> e = (a * b + c).relu()
    >>> e.name = "e"
    >>> text_graph(e)
    e = ReLU  (2,) float32
    └── Add  (2,) float32
        ├── Mul  (2,) float32
        │   ├── a  (2,) float32  parameter
        │   └── b  (2,) float32  parameter
        └── c  (2,) float32  parameter
    """
    graph = _Graph(tensor, "text_graph", max_nodes)
    modules = _Modules(graph, model)
    uses = Counter(id(x) for _, op, _ in graph.ops for x in op.inputs)
    tags: dict[int, int] = {}
    lines: list[str] = []
    stack = [(tensor, "", "")]  # (tensor, prefix of its line, prefix of its children's lines)
    while stack:
        t, head, tail = stack.pop()
        name = modules.name(t)
        op = graph.op_of.get(id(t))
        if op is None:
            lines.append(head + _leaf_text(t, name, graph.kind(t)))
            continue
        tag = ""
        if uses[id(t)] > 1:
            if id(t) in tags:
                lines.append(f"{head}[{tags[id(t)]}] {op.name} (shown above)")
                continue
            tags[id(t)] = len(tags) + 1
            tag = f"[{tags[id(t)]}] "
        where = f" [{modules.short(op.module)}]" if op.module is not None else ""
        gone = "  (freed)" if is_freed(t) else ""
        lines.append(f"{head}{tag}{name + ' = ' if name else ''}{op.name}{where}  "
                     f"{_shape(t)} {t.dtype}{gone}")
        inputs = op.inputs
        for i in range(len(inputs) - 1, -1, -1):
            last = i == len(inputs) - 1
            stack.append((inputs[i], tail + ("└── " if last else "├── "),
                          tail + ("    " if last else "│   ")))
    return _Text("\n".join(lines))


def explain(loss: Tensor, *, model=None, max_nodes: int = 10_000) -> str:
    """The backward pass step by step, in the order `loss.backward()` applies the ops.

    Each step names the op, its backward rule, the gradient `g` arriving at its output
    (shape, size, and which steps it came from) and the gradient it sends to each input
    (shape, size, and where it goes: a later step, or a leaf's `.grad`).

    Parameters
    ----------
    loss : Tensor
        The tensor `.backward()` would start from.
    model : Module, optional
        Names parameters and modules by their paths in it (see `draw_graph`).
    max_nodes : int
        Raise ValueError for a graph with more nodes (tensors plus ops).

    Returns
    -------
    str
        A header, the steps, and the leaves that receive `.grad`; prints without quotes.

    Raises
    ------
    GraphError
        If `loss` does not require grad. (After a plain backward, the steps are listed as
        that backward ran them.)

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> w.name = "w"
    >>> print(explain((w * 3).sum()))  # doctest: +NORMALIZE_WHITESPACE
    Backward pass from the output (shape (), float32): 2 ops, in the order .backward() runs them.
    g is the gradient arriving at an op's output: d(output)/d(out). Each step applies
    the op's backward rule (the chain rule) to turn g into one gradient per input.
    <BLANKLINE>
    step 1  Sum: dx = g expanded back to x's shape
            g   ()    1 value   the seed: d(output)/d(output) = 1
            dx  (2,)  2 values  -> step 2 (Mul output)
    step 2  Mul: dx = g * y
            g   (2,)  2 values  from step 1
            dx  (2,)  2 values  -> w.grad
            dy  ()    -         not computed: constant 3 needs no grad
    <BLANKLINE>
    Leaves that receive .grad: w (2,)
    """
    graph = _Graph(loss, "explain", max_nodes)
    if not loss.requires_grad:
        raise GraphError("explain: this tensor does not require grad, so backward has nothing "
                         "to do; create the inputs with requires_grad=True")
    modules = _Modules(graph, model)
    # the order backward applies the rules: the latest recorded first
    steps = sorted(graph.ops, key=lambda entry: entry[2]._seq, reverse=True)
    step_of = {id(t): i + 1 for i, (_, _, t) in enumerate(steps)}
    sources: dict[int, list[int]] = {}
    for _, op, t in steps:
        for x in op.inputs:
            sources.setdefault(id(x), []).append(step_of[id(t)])
    root_name = modules.name(loss) or "the output"
    d_root = modules.name(loss) or "output"
    rows: list[tuple[str, ...]] = []  # (label, shape, size, note) or a step header
    for _, op, t in steps:
        where = f" [{modules.short(op.module)}]" if op.module is not None else ""
        rows.append((f"step {step_of[id(t)]}  {op.name}{where}: {op.rule}",))
        size = _numel(t.shape)
        if t is loss:
            seed = (f"the seed: d({d_root})/d({d_root}) = 1" if size == 1
                    else "the seed passed as backward(gradient=...)")
        else:
            src = sorted(sources[id(t)])
            seed = (f"from step {src[0]}" if len(src) == 1 else "the sum of steps "
                    + ", ".join(map(str, src[:-1])) + f" and {src[-1]}")
        rows.append(("g", _shape(t), _count(size), seed))
        for arg, x, need in zip(op.args, op.inputs, op.needs, strict=True):
            if not need:
                rows.append(("d" + arg, _shape(x), "-",
                             f"not computed: {_leaf_name(x, modules, graph)} needs no grad"))
                continue
            if x._ctx is None:
                name = modules.name(x)
                dest = f"-> {name}.grad" if name else f"-> .grad of the {graph.kind(x)} {_shape(x)}"
            else:
                dest = f"-> step {step_of[id(x)]} ({graph.op_of[id(x)].name} output)"
            if isinstance(op.node, ops._Broadcasting) and (
                    tuple(x.shape) != tuple(t.shape)):
                dest += f" (summed from {_shape(t)} over the broadcast dims)"
            rows.append(("d" + arg, _shape(x), _count(_numel(x.shape)), dest))
    widths = [max((len(r[i]) for r in rows if len(r) > 1), default=0) for i in range(3)]
    lines = [
        f"Backward pass from {root_name} (shape {_shape(loss)}, {loss.dtype}): {len(steps)} "
        f"op{'s' if len(steps) != 1 else ''}, in the order .backward() runs them.",
        f"g is the gradient arriving at an op's output: d({d_root})/d(out). Each step applies",
        "the op's backward rule (the chain rule) to turn g into one gradient per input."]
    if graph.freed:
        lines.append("(A backward pass already ran and freed the values; the steps are as it "
                     "ran them.)")
    lines.append("")
    for r in rows:
        lines.append(r[0] if len(r) == 1 else "        " + "  ".join(
            cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
    leaves = list({id(x): x for _, op, _ in steps for x in op.inputs  # in the order reached
                   if x._ctx is None and x.requires_grad}.values()) or [loss]
    lines += ["", "Leaves that receive .grad: " + (", ".join(
        f"{modules.name(t) or 'unnamed'} {_shape(t)}" for t in leaves) or "none")]
    return _Text("\n".join(line.rstrip() for line in lines))


def _leaf_name(t, modules: _Modules, graph: _Graph) -> str:
    """How explain refers to a leaf: its name, `constant 3`, or `the input (4, 2)`."""
    name, kind = modules.name(t), graph.kind(t)
    if kind == "constant":
        return _leaf_text(t, name, kind)
    return name or f"the {kind} {_shape(t)}"


def _count(n: int) -> str:
    return f"{n:,} value{'s' if n != 1 else ''}"
