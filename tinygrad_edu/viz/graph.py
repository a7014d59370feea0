"""The graph behind a tensor, numbered for drawing: tensors, ops, modules, backward rules.

Shared by `draw` (graphviz pictures) and `text` (explain, text_graph). Node ids follow a
fixed topological order, so the same graph always gets the same ids.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from .. import function, ops
from ..errors import GraphError
from ..function import Function
from ..tensor import Tensor

# One line per op: g is the gradient arriving at the op's output (d loss / d out), x and y
# its inputs, out its result. CrossEntropy/NLLLoss: y is the one-hot target, N the number
# of samples averaged over (reduction="mean"). A user's op may add its own entry here.
BACKWARD_RULES: dict[str, str] = {
    "Add": "dx = g, dy = g",
    "Sub": "dx = g, dy = -g",
    "Mul": "dx = g * y, dy = g * x",
    "Div": "dx = g / y, dy = -g * x / y^2",
    "Pow": "dx = g * y * x^(y-1), dy = g * out * ln(x)",
    "Maximum": "dx = g * [x > y], dy = g * [y > x] (ties: half each)",
    "Minimum": "dx = g * [x < y], dy = g * [y < x] (ties: half each)",
    "Where": "dx = g * cond, dy = g * (not cond)",
    "Neg": "dx = -g",
    "Exp": "dx = g * out",
    "Log": "dx = g / x",
    "Sqrt": "dx = g / (2 * out)",
    "Abs": "dx = g * sign(x)",
    "ReLU": "dx = g * [x > 0]",
    "Sigmoid": "dx = g * out * (1 - out)",
    "Tanh": "dx = g * (1 - out^2)",
    "Clamp": "dx = g * [low <= x <= high]",
    "Cast": "dx = g, cast back to x's dtype",
    "Sum": "dx = g expanded back to x's shape",
    "Mean": "dx = g / N expanded back to x's shape (N values averaged)",
    "Max": "dx = g * [x == out] / (number of maxima)",
    "Linear": "dx = g @ W, dW = g^T @ x, db = g summed over the batch",
    "Log1p": "dx = g / (1 + x)",
    "Min": "dx = g * [x == out] / (number of minima)",
    "Softmax": "dx = out * (g - sum(g * out))",
    "SoftmaxShift": ("dx = softmax's rule applied to g * c s a, "
                     "dc = s * sum(g * (softmax(x) a - y))"),
    "LogSoftmax": "dx = g - softmax(x) * sum(g)",
    "CrossEntropy": "dx = (softmax(x) - y) * g / N",
    "NLLLoss": "dx = -onehot(target) * g / N",
    "MatMul": "dx = g @ y^T, dy = x^T @ g",
    "Reshape": "dx = g reshaped to x's shape",
    "Permute": "dx = g permuted back (inverse order)",
    "Expand": "dx = g summed over the expanded dims",
    "GetItem": "dx = zeros like x, g added at index",
    "ScatterAdd": "dx = g[index]",
    "Cat": "dx_i = the slice of g that x_i filled",
    "Stack": "dx_i = g[..., i, ...] along the new dim",
    "Conv2d": "dx = conv_transpose(g, w), dy = x correlated with g",
    "ConvTranspose2d": "dx = conv(g, y), dy = g correlated with x",
    "Conv2dWeight": "dx = conv_transpose(y, g), dy = conv(x, g)",
    "MaxPool2d": "dx = g at each window's first maximum, 0 elsewhere",
    "MaxUnpool2d": "dx = g gathered at the indices",
    "Pad": "dx = g with the padding cut off",
    "Erf": "dx = g * 2/sqrt(pi) * exp(-x^2)",
    "Softplus": "dx = g * sigmoid(beta x) (g where beta x > threshold)",
    "BatchNorm": ("dx = (g w - mean(g w) - xhat * mean(g w xhat)) / sqrt(var + eps), "
                  "dw = sum(g * xhat), db = sum(g)"),
}

# Names for what the user wrote where one Tensor method records a general op.
_DISPLAY_RULES: dict[str, str] = {
    "T": "dx = g.T",
    "Transpose": "dx = g with the same two dims swapped back",
}

# ---- the graph, numbered ---------------------------------------------------------------

class _Freed:
    """Stands in for a tensor a backward pass let go of: what its graph kept (shape, dtype,
    name, the op that made it), no value (`data` is None) and no gradient. A constant's
    stand-in keeps its one value."""

    __slots__ = ("shape", "dtype", "name", "_ctx", "_seq", "requires_grad", "data", "_grad")

    def __init__(self, shape, dtype, name, node, seq, data):
        self.shape, self.dtype, self.name, self._ctx, self._seq = shape, dtype, name, node, seq
        self.requires_grad, self.data, self._grad = node is not None, data, None


def _freed_error(caller: str, node: Function) -> GraphError:
    return GraphError(
        f"{caller}: the graph that made this tensor was freed by .backward() (here: "
        f"{node.name}), so there is nothing left to mark. Call {caller}(loss) before "
        "loss.backward(retain_graph=True); drawing after a plain backward needs neither")


class _Walk:
    """The inputs of each op, from a live graph or from what a freed one kept (`structure`,
    see `Function.release`), each freed tensor represented by one `_Freed` throughout."""

    def __init__(self, caller: str):
        self.caller = caller
        self.freed = False  # whether any op met was released
        self._stand_ins: dict[int, _Freed] = {}
        self._inputs: dict[int, tuple] = {}

    def inputs(self, t) -> tuple:
        found = self._inputs.get(id(t))
        if found is None:
            node = t._ctx
            if node.inputs is not None:
                found = tuple(function.recorded_inputs(t))
            else:
                structure = node.__dict__.get("structure")
                if structure is None or self.caller == "retain_grads":
                    raise _freed_error(self.caller, node)
                self.freed = True
                found = tuple(self._value(entry) for entry in structure)
            self._inputs[id(t)] = found
        return found

    def _value(self, entry):
        if isinstance(entry, Tensor):  # a leaf that requires grad
            return entry
        if isinstance(entry, Function):  # the node that made this input
            out = entry._output()
            if out is not None:  # something else keeps the tensor alive: show it
                return out
            key, (shape, dtype, name, seq), node, data = id(entry), entry.made, entry, None
        else:  # another leaf: (shape, dtype, name, data of a constant, weakref to larger data)
            shape, dtype, name, data, ref = entry
            leaf = ref() if ref is not None else None
            if leaf is not None:
                return leaf
            key, seq, node = id(entry if ref is None else ref), None, None
        stand_in = self._stand_ins.get(key)
        if stand_in is None:
            stand_in = self._stand_ins[key] = _Freed(shape, dtype, name, node, seq, data)
        return stand_in


def _display_order(root: Tensor, walk: _Walk) -> list:
    """The non-leaf tensors behind `root`, inputs before their users, first inputs first.

    A depth-first topological order with an explicit stack, visiting each op's inputs left
    to right, so ids and module counters read like the code that built the graph (`x` is
    t0, the first layer is `Linear #1`). `explain` follows backward's own order instead
    (the order the ops were recorded in).
    """
    order: list = []
    visited: set[int] = set()
    stack = [(root, False)] if root._ctx is not None else []
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        stack.extend((x, False) for x in reversed(walk.inputs(t))
                     if x._ctx is not None and id(x) not in visited)
    return order


class _Op:
    """An op as shown: the node, the name the user wrote, its rule, its inputs as shown."""

    __slots__ = ("node", "name", "rule", "args", "inputs", "needs")

    def __init__(self, node: Function, name: str, inputs: tuple, needs: tuple):
        self.node, self.name, self.inputs, self.needs = node, name, inputs, needs
        self.rule, self.args = _rule(self)  # the rule shown, the inputs' names (x, y, ...)

    @property
    def module(self):
        return self.node.module


class _Graph:
    """The tensors and ops behind `root`, numbered in display order (stable ids).

    Ops are shown under the names the user wrote: a Permute that reverses the dims is `T`,
    and one that swaps two is `Transpose`.
    """

    def __init__(self, root: Tensor, caller: str, max_nodes: int):
        if not isinstance(root, Tensor):
            raise TypeError(f"{caller}: expected a Tensor, got {type(root).__name__}")
        walk = _Walk(caller)
        order = _display_order(root, walk)
        self.root, self.freed = root, walk.freed
        self.tensors: list = []
        self.ids: dict[int, str] = {}
        self.ops: list[tuple[str, _Op, object]] = []  # (op id, the op as shown, its output)
        self.op_of: dict[int, _Op] = {}
        self.sequence: list[str] = []  # every node id, in the order the walk met it
        for t in order:
            op = _Op(t._ctx, _op_name(t._ctx), walk.inputs(t), t._ctx.needs_input_grad)
            for x in op.inputs:
                self._add(x)
            self.ops.append((f"op{len(self.ops)}", op, t))
            self.op_of[id(t)] = op
            self.sequence.append(self.ops[-1][0])
            self._add(t)
        self._add(root)  # a leaf root has no ops
        count = len(self.tensors) + len(self.ops)
        if count > max_nodes:
            raise ValueError(
                f"{caller}: the graph has {count} nodes ({len(self.ops)} ops and "
                f"{len(self.tensors)} tensors), more than max_nodes={max_nodes}; a picture "
                "that big is unreadable. Draw a smaller part (an intermediate tensor, such as "
                "one layer's output), print tinygrad_edu.viz.explain(...) instead, or pass "
                f"max_nodes={count} to draw it anyway")

    def _add(self, t) -> None:
        if id(t) not in self.ids:
            self.ids[id(t)] = f"t{len(self.tensors)}"
            self.sequence.append(self.ids[id(t)])
            self.tensors.append(t)

    def kind(self, t) -> str:
        if t._ctx is not None:
            return "output" if t is self.root else "intermediate"
        if t.requires_grad:
            return "parameter"
        return "constant" if _numel(t.shape) == 1 and not t.name else "input"


def is_freed(t) -> bool:
    """Whether backward let go of this tensor (its value and any gradient are gone)."""
    return type(t) is _Freed and t.data is None


def _numel(shape: tuple) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _op_name(node: Function) -> str:
    """The op's name as the user wrote it: `T` or `Transpose` for the Permutes they record."""
    dims = node.__dict__.get("dims") if type(node) is ops.Permute else None
    if dims is None:
        return node.name
    n = len(dims)
    order = [d % n for d in dims]
    if n > 1 and order == list(range(n - 1, -1, -1)):
        return "T"
    if sum(d != i for i, d in enumerate(order)) == 2:
        return "Transpose"
    return node.name


class _Modules:
    """The modules whose forward made the ops: labels, nesting, parameter names.

    Duck-typed on `named_modules()` / `named_parameters()` (tinygrad_edu.nn.Module, or any
    object with them). Without `model`, the outermost modules seen act as roots.
    """

    def __init__(self, graph: _Graph, model=None):
        seen: dict[int, object] = {}  # in order of each module's first op
        for _, op, _ in graph.ops:
            if op.module is not None:
                seen.setdefault(id(op.module), op.module)
        candidates = ([model] if model is not None else []) + [
            m for m in seen.values() if m is not model]
        inner = {id(c): {id(s) for _, s in _named(c, "named_modules") if s is not c}
                 for c in candidates}
        roots = [c for c in candidates
                 if not any(id(c) in inner[id(o)] for o in candidates if o is not c)]
        self.path: dict[int, tuple[int, str]] = {}  # id(module) -> (root index, path)
        self.by_path: dict[tuple[int, str], object] = {}
        self.param_names: dict[int, str] = {}
        for i, root in enumerate(roots):
            for path, sub in _named(root, "named_modules") or [("", root)]:
                if id(sub) not in self.path:
                    self.path[id(sub)] = (i, path)
                    self.by_path[(i, path)] = sub
            for path, p in _named(root, "named_parameters"):
                self.param_names.setdefault(id(p), path)
        self.has_model = model is not None
        raw = {id(m): f"{path} ({type(m).__name__})" if path else type(m).__name__
               for (_, path), m in self.by_path.items()}  # `fc1 (Linear)`, or `MLP`
        counts, seen_labels = Counter(raw.values()), Counter()
        self.labels: dict[int, str] = {}
        for key, label in raw.items():
            if counts[label] > 1:
                seen_labels[label] += 1
                label = f"{label} #{seen_labels[label]}"
            self.labels[key] = label

    def label(self, module) -> str:
        return self.labels.get(id(module), type(module).__name__)

    def short(self, module) -> str:
        """The module's path (`fc1`), or its class name for a root."""
        return self.path.get(id(module), (0, ""))[1] or self.label(module)

    def parent(self, module):
        i, path = self.path.get(id(module), (None, ""))
        parts = path.split(".") if path else []
        for k in range(len(parts) - 1, -1, -1):
            found = self.by_path.get((i, ".".join(parts[:k])))
            if found is not None:
                return found
        return None

    def name(self, t: Tensor) -> str | None:
        derived = self.param_names.get(id(t))
        return (derived or t.name) if self.has_model else (t.name or derived)


def _named(obj, method: str) -> list:
    fn = getattr(obj, method, None)
    return list(fn()) if callable(fn) else []


def _rule(op: _Op) -> tuple[str, list[str]]:
    """The op's backward rule as one line, for the inputs that need a gradient, and the names
    of its inputs (from the rule: `dx = ..., dW = ...` names them x, W); for an unknown op,
    its docstring's first line."""
    if op.name in _DISPLAY_RULES:
        rule = _DISPLAY_RULES[op.name]
    else:
        cls = type(op.node)
        if not (cls.__name__ in BACKWARD_RULES and getattr(ops, cls.__name__, cls) is cls):
            doc = (cls.__doc__ or "").strip()
            return (doc.splitlines()[0].strip() if doc else
                    "(no backward rule text: add a docstring)"), _arg_names(len(op.inputs))
        rule = BACKWARD_RULES[cls.__name__]
        if op.node.__dict__.get("reduction", "mean") != "mean":  # a loss summed, or per sample
            rule = rule.replace(" / N", "")
    parts = _RULE_PARTS.split(rule)
    named = [m[1] if (m := _RULE_NAME.match(part)) else None for part in parts]
    n = len(op.inputs)
    if None in named or len(named) < n or len(set(named)) < len(named):
        return rule, _arg_names(n)  # a rule for every input alike (Cat's dx_i), or prose
    shown = [part for i, part in enumerate(parts) if i < n and op.needs[i]]
    return ", ".join(shown or parts[:n]), named[:n]


_RULE_PARTS = re.compile(r", (?=d\w* = )")
_RULE_NAME = re.compile(r"d(\w+) = ")


def _arg_names(n: int) -> list[str]:
    return ["x"] if n == 1 else ["x", "y"] if n == 2 else [f"x{i}" for i in range(1, n + 1)]


def _num(v: float) -> str:
    return f"{v:.3g}"


def _shape(t) -> str:
    return str(tuple(t.shape))


# ---- statistics shown on tensor nodes --------------------------------------------------

def _value_stats(a: np.ndarray) -> str:
    if a.size == 0:
        return "empty"
    with np.errstate(all="ignore"):  # Inf values give NaN statistics, not warnings
        a = a.astype(np.float64)
        return f"value {_num(a.item())}" if a.size == 1 else \
            f"mean {_num(a.mean())}, std {_num(a.std())}"


def _grad_stats(a: np.ndarray) -> tuple[str, bool]:
    """The gradient's norm and range, and whether it looks broken (NaN, Inf, all zero)."""
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        return ("grad has NaN" if np.isnan(a).any() else "grad has Inf"), True
    if a.size == 1:
        return f"grad {_num(a.item())}", False
    norm = float(np.sqrt(np.sum(a * a))) if a.size else 0.0
    if norm == 0.0:
        return "grad all zero", True
    return f"grad norm {_num(norm)}\nrange [{_num(a.min())}, {_num(a.max())}]", False


# ---- gradients to show -----------------------------------------------------------------

def retain_grads(tensor: Tensor) -> Tensor:
    """Make every tensor in the graph behind `tensor` keep its `.grad` after backward.

    Leaves keep theirs anyway; this marks the intermediate values (and `tensor` itself)
    with `retain_grad()`, so `draw_graph` can show gradient statistics on every node. Call
    it before `tensor.backward(retain_graph=True)`.

    Returns
    -------
    Tensor
        `tensor`, for chaining.

    Examples
    --------
    >>> from tinygrad_edu import Tensor
    >>> x = Tensor([1.0, -2.0], requires_grad=True)
    >>> h = x * 3
    >>> loss = h.relu().sum()
    >>> retain_grads(loss).backward(retain_graph=True)
    >>> h.grad
    Tensor([1., 0.], dtype=float32)
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"retain_grads: expected a Tensor, got {type(tensor).__name__}")
    for t in _display_order(tensor, _Walk("retain_grads")):
        t.retain_grad()
    return tensor
