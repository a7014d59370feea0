"""The graph walk: iterative topological order, backward(), grad(), no_grad, detect_anomaly."""

from __future__ import annotations

import contextlib
import gc
import heapq
import sys
import threading
from collections.abc import Sequence

import numpy as np

from . import function, ops
from .errors import GraphError, ShapeError
from .function import _check_finite, state
from .shapes import sum_to, unbroadcast
from .tensor import Tensor


class _GradMode(contextlib.ContextDecorator):
    """Set grad mode for a `with` block or a decorated function, in this thread only."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._saved: list[bool] = []

    def __enter__(self):
        self._saved.append(state.grad_enabled)
        state.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        state.grad_enabled = self._saved.pop()
        return False

    def _recreate_cm(self):
        # a fresh one per call of a decorated function: calls in two threads must not share
        # the saved modes (one thread would restore the other's)
        return _GradMode(self.enabled)


def no_grad() -> _GradMode:
    """Record nothing inside: for inference and for updating parameters.

    Works as a context manager and as a decorator; the setting is per thread.

    Examples
    --------
    >>> from tinygrad_edu import Tensor, no_grad
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> with no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Record ops again inside a `no_grad` block."""
    return _GradMode(True)


def is_grad_enabled() -> bool:
    return state.grad_enabled


@contextlib.contextmanager
def detect_anomaly():
    """Raise AnomalyError naming the op when a forward or backward produces NaN or Inf.

    Examples
    --------
    >>> from tinygrad_edu import Tensor, detect_anomaly
    >>> x = Tensor([0.0], requires_grad=True)
    >>> with detect_anomaly():
    ...     x.log()
    Traceback (most recent call last):
    ...
    tinygrad_edu.errors.AnomalyError: detect_anomaly: Log.forward produced Inf ...
    """
    saved = state.anomaly
    state.anomaly = True
    try:
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            yield
    finally:
        state.anomaly = saved


def _topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Tensors reachable from `roots` through recorded ops, in the order they were recorded
    (so inputs come before their users): backward runs their rules in the reverse order.

    The search uses an explicit stack, so a chain of a million ops needs no recursion.
    """
    found: dict[Tensor, None] = {}
    stack = [root for root in roots if root._ctx is not None]
    while stack:
        t = stack.pop()
        if t in found:
            continue
        found[t] = None
        node = t._ctx
        if node.inputs is None:
            raise _freed_graph_error(node)
        for x in function.recorded_inputs(t):
            if x._ctx is not None and x not in found:
                stack.append(x)
    return sorted(found, key=_recorded_at)


def _recorded_at(t: Tensor) -> int:
    return t._seq


def _freed_graph_error(node: function.Function) -> GraphError:
    return GraphError(
        f"backward: the graph through {node.name} was freed by an earlier backward pass; "
        "call the first .backward(retain_graph=True) to backpropagate through the same graph "
        "twice, or recompute the forward pass")


def _seed(root: Tensor, gradient) -> Tensor:
    """The gradient that starts the walk: d(root)/d(root) = 1, or the one given."""
    if gradient is None:
        if root.data.size != 1:
            raise GraphError(
                f"backward: the output has shape {root.shape}, not one element, so its "
                "gradient is ambiguous; reduce it first (loss.sum() or loss.mean()) or pass "
                "gradient=<a tensor of that shape>")
        # shape (1, ..., 1) or (); np.array is quicker than np.ones here
        return Tensor._make(np.array(1, root.data.dtype, ndmin=root.data.ndim), False)
    gradient = gradient if isinstance(gradient, Tensor) else Tensor(
        np.asarray(gradient, dtype=root.dtype))
    if gradient.shape != root.shape:
        raise ShapeError(f"backward: gradient has shape {gradient.shape} but the output has "
                         f"shape {root.shape}; pass a gradient of the output's shape")
    return gradient


def _run_backward(roots, seeds, retain_graph: bool, create_graph: bool, targets=None,
                  caller: str = "backward"):
    """Walk the graph from `roots` down, applying each op's rule: the latest recorded first.

    A tensor waits in `pending`, a heap ordered by `_seq` (the order tensors were recorded),
    from the moment its first gradient arrives. Every op that used it was recorded later, so
    by the time it comes out of the heap their rules have run and its gradient is complete.
    Gradients travel as plain arrays unless `create_graph` records the walk (then as Tensors):
    a rule that declares `rule_on_arrays` runs on them directly, any other gets them wrapped.
    With `targets` (a dict tensor -> None), collect the gradients of those tensors and leave every
    `.grad` alone; otherwise accumulate into the `.grad` of leaves (and of tensors that
    called `retain_grad()`).
    """
    for i, root in enumerate(roots):
        if not root.requires_grad:
            what = "this tensor" if caller == "backward" else f"output {i}"
            raise GraphError(
                f"{caller}: {what} (shape {root.shape}) does not require grad: no recorded op "
                "connects it to a tensor that requires grad. Create the inputs with "
                "requires_grad=True, and do not compute it under no_grad")
    grads: dict[Tensor, Tensor] = {}  # keyed by the tensor itself: identity hash, no id() calls
    owned: set[Tensor] = set()  # gradients this walk allocated itself: safe to add into in place
    leaves: list[Tensor] = []  # leaves reached, in order: their gradients are handed over last
    pending: list[tuple[int, Tensor]] = []  # (-_seq, tensor): heapq pops the latest made first
    stored: set[int] = set()  # the caller's arrays (and those put on leaves): stored as copies
    arrays = not create_graph  # nothing records the rules: gradients travel as arrays
    for root, seed in zip(roots, seeds):  # noqa: B905 - one seed per root, made by the callers
        if root not in grads:
            if root._ctx is None:  # a leaf root is its own gradient
                leaves.append(root)
            else:
                pending.append((-root._seq, root))
        _accumulate(grads, owned, root, seed.data if arrays else seed)
        stored.add(id(seed.data))
    heapq.heapify(pending)
    kind = np.ndarray if arrays else Tensor  # what a gradient is in this walk
    leads = None if targets is None else _leading_to(_topological_order(roots), targets)
    anomaly = state.anomaly
    recorder = _recording.recorder  # viz's backward player, if it listens
    last_write = function._last_write
    grad_mode, state.grad_enabled = state.grad_enabled, create_graph  # record rules or not
    # The walk makes no reference cycles, but each released node keeps a small record of the
    # graph, so a long walk would set off the cycle collector again and again, each time
    # rescanning the whole graph (2x slower at 100k nodes). It runs once, afterwards, instead.
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    pop, push = heapq.heappop, heapq.heappush
    try:
        while pending:
            t = pop(pending)[1]
            g = grads.pop(t)
            node = t._ctx
            inputs = node.inputs
            if inputs is None:
                raise _freed_graph_error(node)
            written = last_write[0] > t._seq  # something was written in place after t was made
            if written:
                inputs = function.recorded_inputs(t)
            if t._retains_grad or (targets is not None and t in targets):
                with _grad_lock:
                    _deliver(t, g, targets, create_graph, stored)
            if leads is not None and t not in leads:  # grad(): no target below this node
                if not retain_graph:
                    node.release()
                continue
            if written:
                _check_unwritten(node, t)
            direct = not arrays or node.rule_on_arrays  # the rule takes this walk's kind
            rule_grad = g if direct else Tensor._make(g, False)
            try:
                if anomaly:  # check the rule's results below, named for this op, rather
                    state.anomaly = False  # than the primitive ops the rule is built from
                    try:
                        in_grads = node.backward(rule_grad)
                    finally:
                        state.anomaly = True
                else:
                    in_grads = node.backward(rule_grad)
            except Exception as exc:  # a custom op's rule: say which one failed
                exc.add_note(f"(raised in {node.name}.backward, the backward rule of the op "
                             f"{node.name}, for an output of shape {t.shape})")
                raise
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(inputs):
                raise GraphError(f"{node.name}.backward returned {len(in_grads)} gradients for "
                                 f"{len(inputs)} inputs; return one Tensor (or None) per "
                                 "input, in order")
            for x, gx, need in zip(inputs, in_grads, node.needs_input_grad):  # noqa: B905
                if gx is None or not need:
                    continue
                if type(gx) is not kind or not direct:
                    gx = _as_gradient(gx, node, arrays)
                x_data = x.data
                if gx.shape != x_data.shape or gx.dtype != x_data.dtype:
                    gx = _fit(gx, x_data, create_graph)
                if anomaly:
                    _check_finite(gx if arrays else gx.data, f"{node.name}.backward", inputs)
                if x in grads:
                    _accumulate(grads, owned, x, gx)
                else:
                    grads[x] = gx                  # the first path to reach x
                    if x._ctx is None:
                        leaves.append(x)
                    else:
                        push(pending, (-x._seq, x))
            if recorder is not None:
                recorder(t, node, _tensor(g), tuple(map(_tensor, in_grads)))
            if not retain_graph:
                node.release()
    finally:
        state.grad_enabled = grad_mode
        if collecting:
            gc.enable()
    # Each leaf's gradient, summed over every path, goes to its .grad (or to grad()'s result)
    # only now: a walk that fails part way leaves every .grad as it was. The lock makes each
    # read-add-write of a .grad whole when threads backpropagate into shared leaves.
    with _grad_lock:
        for x in leaves:
            _deliver(x, grads.pop(x), targets, create_graph, stored)
    function._generation[0] += 1


class _Recording(threading.local):
    """The backward player (tinygrad_edu.viz.player) sets `recorder`, in its own thread, to a
    callable run after each rule with (the output tensor, its node, the gradient that arrived
    at it, the tuple the rule returned: one gradient or None per input, before any summing).
    Off (None, the class default: a plain read), it costs one test per node."""

    recorder = None


_recording = _Recording()

# One lock for every .grad a walk writes: numpy releases the GIL inside the add, so two
# threads could otherwise both read the old .grad and one sum would be lost.
_grad_lock = threading.Lock()


def _check_unwritten(node: function.Function, out: Tensor) -> None:
    """Refuse to run `node`'s rule if an input or its output was changed in place after the
    node was recorded: the rule would mix old and new values (PyTorch's version check)."""
    for i, x in enumerate(node.inputs):
        if function._written_since(x.data, out._seq):
            what = f"input {i}" if len(node.inputs) > 1 else "the input"
            break
    else:
        if not function._written_since(out.data, out._seq):
            return
        what, x = "the output", out
    raise GraphError(
        f"backward: {what} of {node.name} (shape {x.shape}, dtype {x.dtype}) was modified "
        f"by an in-place operation (-=, add_, copy_, t[i] = v, an optimiser's step or "
        f"load_state_dict) after {node.name} used it, so its gradient could mix old and new "
        "values (a node refuses if any of its inputs or its output changed since it ran); run "
        "the forward pass again after the update, or change the tensor out of place "
        "(t2 = t - x)")


def _as_gradient(gx, node: function.Function, arrays: bool):
    """A rule's result as this walk's kind of gradient (an array, or under create_graph a
    Tensor); anything else is the rule's mistake."""
    if isinstance(gx, Tensor):
        return gx.data if arrays else gx
    if arrays and node.rule_on_arrays and isinstance(gx, (np.ndarray, np.generic)):
        return np.asarray(gx)  # (numpy turns 0-d results into scalars)
    raise TypeError(f"{node.name}.backward returned a {type(gx).__name__}, not a Tensor; build "
                    "gradients with Tensor ops (so create_graph can differentiate them)")


def _tensor(g):
    """A gradient as a Tensor (the walk may carry it as an array), None kept."""
    if g is None or isinstance(g, Tensor):
        return g
    return Tensor._make(np.asarray(g), False)


def _deliver(t: Tensor, g, targets, create_graph: bool, stored: set[int]) -> None:
    """Hand a finished gradient over: into `t.grad`, or to grad()'s `targets` if given."""
    if create_graph and not g.requires_grad:
        # A constant derivative (relu's, abs's, max's: a mask) still depends on t, with
        # derivative 0: record that, so differentiating it again gives zeros (as PyTorch).
        g = ops.Where.apply(g, t, condition=np.ones(t.shape, dtype=bool))
    if targets is None:
        _store_grad(t, g, create_graph, stored)
    elif t in targets:
        g = _tensor(g)
        targets[t] = g if targets[t] is None else targets[t] + g


def _fit(g, x_data: np.ndarray, create_graph: bool):
    """A rule's gradient (an array, or a Tensor under create_graph) made to fit its input:
    dims broadcast in forward summed back (recorded under create_graph), then its dtype."""
    if g.shape != x_data.shape:
        g = unbroadcast(g, x_data.shape) if create_graph else sum_to(g, x_data.shape)
    if g.dtype != x_data.dtype:
        g = g.astype(x_data.dtype)
    return g


def _leading_to(order: list[Tensor], targets) -> set[Tensor]:
    """The tensors in `order` whose graph contains a target: grad() walks only those."""
    leads: set[Tensor] = set()
    for t in order:  # inputs come before their users
        for x in t._ctx.inputs:
            if x in targets or x in leads:
                leads.add(t)
                break
    return leads


def _accumulate(grads, owned, t, g) -> None:
    """Sum the gradients that reach `t` along several paths."""
    old = grads.get(t)
    if old is None:
        grads[t] = g
    elif t in owned and type(old) is np.ndarray:
        np.add(old, g, out=old)  # our own buffer: add in place
    else:
        total = old + g
        grads[t] = np.asarray(total) if type(old) is np.ndarray else total  # (0-d: scalar)
        owned.add(t)


def _store_grad(t: Tensor, g, create_graph: bool, stored: set[int]) -> None:
    """Add `g` into `t.grad`; every stored gradient gets an array of its own.

    `stored` holds the ids of the caller's seed arrays and of the arrays this walk has put on
    leaves: such an array is copied before it is stored again. An existing `.grad` is not
    added into in place (the caller may hold it): the sum is a new array.
    """
    if not create_graph:
        _store_array(t, g, stored)
        return
    old = t._grad  # (the attribute behind the .grad property, which may warn)
    if old is not None:  # gradients stay in the graph: a shared one is cloned, in it too
        t._grad = old + g
    elif _shared(g.data, stored):
        t._grad = g.clone()
    else:
        t._grad = g
    stored.add(id(t._grad.data))


def _store_array(t: Tensor, g: np.ndarray, stored: set[int]) -> None:
    """`_store_grad` of a gradient the walk carried as an array."""
    old = t._grad
    if old is not None:
        g = np.asarray(old.data + g)  # 0-d arrays add up to a numpy scalar
    elif _shared(g, stored):
        g = g.copy()
    stored.add(id(g))
    t._grad = Tensor._make(g, False)


def _shared(data: np.ndarray, stored: set[int]) -> bool:
    """Whether a gradient array must be copied before a tensor keeps it as `.grad`: it is
    read-only (a broadcast), already stored (on another leaf, or a seed), or a view of an
    array that something else still holds (the view itself and getrefcount's argument are the
    two references of one nobody else holds: Linear's dW, a transpose of a fresh product,
    is kept in the weight's own layout without a copy)."""
    return (not data.flags.writeable or id(data) in stored
            or (data.base is not None and sys.getrefcount(data.base) > 2))


def backward(tensor: Tensor, gradient=None, retain_graph: bool = False,
             create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into every leaf's `.grad`; see `Tensor.backward`."""
    _run_backward([tensor], [_seed(tensor, gradient)], retain_graph or create_graph,
                  create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False):
    """Gradients of `outputs` with respect to `inputs`, returned without touching `.grad`.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensors
        The values to differentiate (their gradients are summed).
    inputs : Tensor or sequence of Tensors
        The tensors to differentiate with respect to (leaves or intermediate values).
    grad_outputs : Tensor or sequence, optional
        d(final)/d(output) for each output; optional for one-element outputs.
    retain_graph : bool, optional
        Keep the graph after the call; defaults to `create_graph`.
    create_graph : bool
        Record the backward pass so the returned gradients can be differentiated again.
    allow_unused : bool
        Return None for an input that the outputs do not depend on, instead of raising.

    Returns
    -------
    tuple of Tensor (or None)
        One gradient per input, in order.

    Examples
    --------
    >>> from tinygrad_edu import Tensor, grad
    >>> x = Tensor([3.0], requires_grad=True)
    >>> (dx,) = grad((x ** 3).sum(), x, create_graph=True)
    >>> dx                                    # 3 x^2
    Tensor([27.], dtype=float32, grad_fn=<Mul>)
    >>> grad(dx.sum(), x)[0]                  # 6 x
    Tensor([18.], dtype=float32)
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    seeds = [_seed(o, g) for o, g in zip(outputs, grad_outputs, strict=True)]
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise GraphError(f"grad: input {i} (shape {x.shape}) does not require grad; create "
                             "it with requires_grad=True")
    targets: dict[Tensor, Tensor | None] = dict.fromkeys(inputs)
    retain = create_graph if retain_graph is None else retain_graph
    _run_backward(outputs, seeds, retain, create_graph, targets, caller="grad")
    result = []
    for i, x in enumerate(inputs):
        g = targets[x]
        if g is None and not allow_unused:
            raise GraphError(f"grad: input {i} (shape {x.shape}) is not used to compute the "
                             "outputs; pass allow_unused=True to get None for it")
        if g is not None and any(g.data is r.data for r in result if r is not None):
            g = g.clone() if create_graph else Tensor._make(g.data.copy(), False)  # its own
        result.append(g)
    return tuple(result)
