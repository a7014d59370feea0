"""Function: the base class of every op, and the graph node each call of an op leaves behind.

An op's `forward` takes numpy arrays and returns one; its `backward` takes the gradient of
the output as a Tensor and returns one Tensor (or None) per input, built with Tensor ops.
`Function.apply` runs forward and, when an input needs a gradient and grad mode is on,
records the call as the output tensor's `grad_fn`.
"""

from __future__ import annotations

import itertools
import threading
import weakref

import numpy as np

from .errors import AnomalyError, GraphError, GraphGrowthWarning, TinygradEduError, warn_once


class _State(threading.local):
    """Per-thread switches read by every op: grad mode and anomaly detection."""

    grad_enabled = True
    anomaly = False
    module = None  # the Module whose forward is running, recorded on each node (for viz)


state = _State()

# Numbers each recorded output in the order it was made: an op's inputs always have smaller
# numbers than its output, so running rules from the highest number down is a topological order.
_sequence = itertools.count()

# Counts backward passes in this process. A node remembers the count it was made at; an op
# that takes a non-leaf made before the latest backward "carries" a graph into a new step.
_generation = [0]
CARRY_STEPS_BEFORE_WARNING = 3

# In-place writes. Every write into a tensor's memory (an in-place op, an optimiser step,
# load_state_dict) stamps the array that owns that memory with a number from `_sequence`. A node
# whose output was numbered before the stamp used the old values: its backward refuses to run.
# Stamps are kept per owning array, not per Tensor, because views (x.T, x[0], reshape,
# detach) share memory: a write through any of them changes what the others hold.
_writes: dict[int, list] = {}  # id(owner) -> [latest stamp, number of writes, weakref(owner)]
_last_write = [-1]  # the latest stamp of all: a node made after it needs no check


def _owner(data: np.ndarray) -> np.ndarray:
    """The array that owns `data`'s memory (itself, or the base its views lead to)."""
    owner, base = data, data.base
    while base is not None:  # numpy views; as_strided's DummyArray stands between them
        if isinstance(base, np.ndarray):
            owner = base
        base = getattr(base, "base", None)
    return owner


def mark_written(data: np.ndarray, stamp: int | None = None) -> None:
    """Record that `data`'s memory was just changed in place (every in-place path calls it).

    Nodes recorded before this call that hold a tensor on this memory then refuse to
    backpropagate, with an error naming the op: their saved values are gone.
    """
    stamp = next(_sequence) if stamp is None else stamp
    owner = data if data.base is None else _owner(data)  # (a parameter owns its memory)
    key = id(owner)
    entry = _writes.get(key)
    if entry is None or entry[2]() is not owner:
        forget = weakref.ref(owner, lambda ref, k=key: _forget_writes(ref, k))
        entry = _writes[key] = [stamp, 0, forget]
    entry[0] = stamp
    entry[1] += 1
    if stamp > _last_write[0]:
        _last_write[0] = stamp


def _forget_writes(ref: weakref.ref, key: int) -> None:
    """The owner died: drop its entry (unless its id already serves a newer array)."""
    entry = _writes.get(key)
    if entry is not None and entry[2] is ref:
        del _writes[key]


def version(data: np.ndarray) -> int:
    """How many times the memory under `data` has been written in place."""
    entry = _writes.get(id(_owner(data)))
    return 0 if entry is None else entry[1]


def note_update(seq: int) -> None:
    """An in-place op inside the graph made a tensor numbered `seq`: nodes recorded before it
    look up their inputs again (`recorded_inputs`)."""
    if seq > _last_write[0]:
        _last_write[0] = seq


def recorded_inputs(t) -> tuple:
    """The inputs of the op that made `t`, as they were when it ran.

    An in-place op inside the graph (`y -= y.mean()`) gives the Tensor object `y` a new value
    and a new place in the graph, but ops recorded before it took `y` with its old value. Such
    an input (numbered after `t`) is replaced here, once, by the tensor that now holds its old
    value and place (`y._before`); the node keeps the corrected inputs.
    """
    node = t._ctx
    if _last_write[0] > t._seq and node.inputs is not None:
        seq, changed, inputs = t._seq, False, []
        for x in node.inputs:
            while x._ctx is not None and x._seq > seq:
                before = x._before() if getattr(x, "_before", None) is not None else None
                if before is None:
                    raise GraphError(
                        f"{node.name}: an input of shape {x.shape} was updated in place inside "
                        f"the graph after {node.name} used it, and the value it had then was "
                        "freed by a backward pass through the update; backpropagate through "
                        "both in one backward call, or pass retain_graph=True to the first")
                x, changed = before, True
            inputs.append(x)
        if changed:
            node.inputs = tuple(inputs)
    return node.inputs


def _written_since(data: np.ndarray, seq: int) -> bool:
    entry = _writes.get(id(_owner(data)))
    return entry is not None and entry[0] > seq



class Function:
    """Base class of ops. Subclass it, write `forward` and `backward`, call `apply`.

    `forward(self, *arrays, **params)` computes the output array from the input arrays;
    whatever backward needs it stores on `self` by name. `backward(self, grad)` returns the
    gradient of each input (a Tensor, or None where `self.needs_input_grad[i]` is False),
    computed with Tensor ops from `grad`, `self.inputs`, `self.output` and saved constants,
    so the same rule records a graph under `create_graph=True`. Gradients may keep a
    broadcast shape: the engine sums them back to each input's shape.

    An op whose rule uses only what numpy arrays and Tensors have in common (`@`, `.T`, `+`,
    `*`, comparisons, `reshape`) and reads its inputs and output with `self.operands(grad)`
    and `self.result(grad)` may set `rule_on_arrays = True`: when nothing records the
    backward pass, the engine then runs the rule on plain arrays, and its results may be
    arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_edu import Function, Tensor
    >>> class Cube(Function):
    ...     '''out = x ** 3'''
    ...     def forward(self, x):
    ...         return x ** 3
    ...     def backward(self, grad):
    ...         (x,) = self.inputs
    ...         return grad * 3 * x * x        # dout/dx = 3 x^2
    >>> x = Tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    Tensor([12.], dtype=float32)
    """

    inputs: tuple | None = None  # the input Tensors, until backward frees the node
    needs_input_grad: tuple = ()
    generation = 0
    module = None  # the Module (if any) whose forward made this node
    carry = 0  # how many backward passes in a row this node's graph has been carried over
    view = False  # True for ops whose output may share its input's memory (reshape, x[i], ...)
    # What a released node keeps of what forward saved: small parameters that pictures of the
    # graph name (Permute's dims, a loss's reduction), never an array
    kept_after_release: tuple[str, ...] = ()
    # The same rule run on arrays when nothing records it: each operation in it then skips
    # an op object and a Tensor (about 1 us each; a training step's rules make dozens)
    rule_on_arrays = False

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on `inputs` (Tensors) and record it in the graph when needed."""
        # Hot path (every op, forward and backward, goes through here): plain loops, no
        # comprehensions, and grad mode is read only when an input requires grad.
        Tensor = _tensor.Tensor
        arrays, needs_input_grad = [], []
        for t in inputs:
            if not isinstance(t, Tensor):  # a number or an array: lift it to a constant
                return cls.apply(*_constants(inputs), **params)
            arrays.append(t.data)
            needs_input_grad.append(t.requires_grad)
        fn = cls()
        try:
            data = fn.forward(*arrays, **params)
        except TinygradEduError:
            raise
        except (ValueError, IndexError, TypeError) as exc:
            raise fn.explain_error(inputs, params, exc) from exc
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        if state.anomaly:
            _check_finite(data, f"{cls.__name__}.forward", inputs)
        if True in needs_input_grad and state.grad_enabled:
            return fn._record(inputs, tuple(needs_input_grad), Tensor._make(data, True))
        return Tensor._make(data, False)

    @classmethod
    def apply_in_rule(cls, *operands, **params):
        """Use this op inside another op's backward rule: `apply` on Tensors; on arrays (a
        rule the engine runs on arrays) only the forward, whose array is the result."""
        for x in operands:
            if isinstance(x, _tensor.Tensor):
                return cls.apply(*operands, **params)
        return cls().forward(*operands, **params)

    def _record(self, inputs: tuple, needs_input_grad: tuple, out):
        """Make this call the graph node that produced `out`."""
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.generation = gen = _generation[0]
        module = state.module
        if module is not None:  # (the class default is None)
            self.module = module
        for t in inputs:
            node = t._ctx
            if node is not None and node.generation != gen:
                self._carried_from(node)
        self._output = weakref.ref(out)  # weak: the output owns the node, not the other way
        out._ctx = self
        out._seq = next(_sequence)
        return out

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, grad):
        raise NotImplementedError(f"{type(self).__name__} must define backward")

    def operands(self, grad) -> tuple:
        """The inputs in the kind `grad` is: their arrays when the engine runs the rule on
        arrays (`rule_on_arrays`, nothing recorded), else the Tensors themselves."""
        if type(grad) is np.ndarray:
            return tuple([t.data for t in self.inputs])
        return self.inputs

    def result(self, grad):
        """The output in the kind `grad` is (see `operands`)."""
        out = self.output
        return out.data if type(grad) is np.ndarray else out

    @property
    def output(self):
        """The Tensor this node made (still connected to the graph)."""
        out = self._output() if self.inputs is not None else None
        if out is None:
            raise GraphError(f"{type(self).__name__}: its output is gone (the graph was freed)")
        return out

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def release(self) -> None:
        """Let go of inputs, output and saved arrays once backward has used them.

        The graph's shape stays, for drawing after backward (PyTorch too keeps its graph and
        frees only the saved tensors). `self.structure` holds one entry per input: the node
        that made it (which keeps `made = (shape, dtype, name, seq)` of that tensor), a leaf
        that requires grad (a parameter: alive anyway), or for another leaf the tuple
        `(shape, dtype, name, data, None)` of a constant (one element) or `(shape, dtype, name,
        None, weakref to it)` of larger data (images, a target, a mask). No
        intermediate array stays alive. `inputs` becomes None: the engine reads that as
        "freed" and refuses a second backward through this node.
        """
        d = self.__dict__
        inputs = d.get("inputs")
        if inputs is None:  # released already
            return
        structure = []
        for x in inputs:
            node = x._ctx
            if node is not None:
                structure.append(node)
                made = node.__dict__
                if "made" not in made:  # this is the first of x's users released
                    data = x.data
                    made["made"] = (data.shape, data.dtype, x.name, x._seq)
            elif x.requires_grad:
                structure.append(x)
            else:
                data = x.data
                structure.append((data.shape, data.dtype, x.name, data, None) if data.size <= 1
                                 else (data.shape, data.dtype, x.name, None, weakref.ref(x)))
        kept = {"structure": tuple(structure), "needs_input_grad": d["needs_input_grad"],
                "_output": d["_output"]}
        if "made" in d:  # (set by the release of a node that used this one's output)
            kept["made"] = d["made"]
        if "module" in d:
            kept["module"] = d["module"]
        for key in self.kept_after_release:
            kept[key] = d[key]
        self.__dict__ = kept  # inputs reads the class default, None, from now on

    def explain_error(self, inputs, params, exc: Exception) -> Exception:
        """Word an error numpy raised inside forward; ops override this for their own cases."""
        shapes = ", ".join(str(t.shape) for t in inputs)
        message = str(exc)
        if message.split(":")[0].replace("_", "") != self.name.lower():  # not the op's own words
            message = f"{self.name.lower()}: failed on inputs of shape {shapes}: {message}"
        return type(exc)(message)

    def _carried_from(self, node: Function) -> None:
        self.carry = max(self.carry, node.carry + 1)
        if self.carry >= CARRY_STEPS_BEFORE_WARNING:
            warn_once(
                "graph-growth",
                f"{self.name}: a graph has been carried across {self.carry} backward passes and "
                "keeps growing (memory and time grow every step). A value from an earlier step, "
                "such as a running `total_loss += loss`, still holds its graph: accumulate "
                "`loss.item()` (a Python number) or `loss.detach()` instead.",
                GraphGrowthWarning,
            )


def _constants(inputs) -> list:
    """The inputs with each number or array made a constant Tensor. A Python number takes
    the float dtype of the op's first Tensor, so `x * 2` stays float32."""
    Tensor = _tensor.Tensor
    first = next((t for t in inputs if isinstance(t, Tensor)), None)
    lift = Tensor if first is None else first._lift
    return [lift(x) for x in inputs]


def _check_finite(data: np.ndarray, where: str, inputs) -> None:
    if data.dtype.kind in "fc" and not np.isfinite(data).all():
        kind = "NaN" if np.isnan(data).any() else "Inf"
        shapes = ", ".join(str(t.shape) for t in inputs)
        raise AnomalyError(
            f"detect_anomaly: {where} produced {kind} (output shape {data.shape}, input shapes "
            f"{shapes}); check this op's inputs (log of 0, division by 0, overflow in exp)"
        )


# Last, because tensor.py imports ops.py, which imports this module: the module object is
# taken (it is complete by the time an op runs), not its `Tensor`, which may not exist yet.
from . import tensor as _tensor  # noqa: E402
