"""In-place updates, the version check and thread-safe accumulation (issue 15, items 1-3, 7, 8).

PyTorch's rules, checked here:
- an in-place op changes the same Tensor object (`p -= x` keeps `p`);
- under no_grad, or when nothing needs a gradient, it writes into the tensor's memory;
- with grad mode on, a leaf that requires grad refuses; any other tensor records the update;
- a node whose inputs or output were written after it ran refuses to backpropagate.
"""

from __future__ import annotations

import threading

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tinygrad_edu import DtypeError, GraphError, ShapeError, Tensor, grad, minimum, nn, no_grad
from tinygrad_edu import function as function_module
from tinygrad_edu import inplace as inplace_module
from tinygrad_edu.testing import check_grad

STALE = "modified by an in-place operation"


# ---- item 1: in-place updates are updates, not rebinds -------------------------------------

def test_trust_01_manual_sgd_loop_updates_the_parameters():
    model = nn.Linear(3, 1, rng=0)
    x = Tensor(np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32))
    params = list(model.parameters())
    losses = []
    for _ in range(5):
        loss = (model(x) ** 2).mean()
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    assert losses[-1] < 0.5 * losses[0]
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]  # same objects


def test_trust_01_attribute_update_keeps_the_parameter_registered():
    model = nn.Linear(2, 1, rng=0)
    weight = model.weight
    (model(Tensor([[1.0, 2.0]])).sum()).backward()
    with no_grad():
        model.weight -= 0.5 * model.weight.grad
    assert model.weight is weight and model.weight.is_leaf
    assert any(p is weight for p in model.parameters())
    np.testing.assert_array_equal(model.state_dict()["weight"], weight.data)


def test_trust_01_in_place_on_a_leaf_that_requires_grad_refuses_in_grad_mode():
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(GraphError, match=r"sub_: a leaf tensor that requires grad .* no_grad"):
        w -= 1.0
    np.testing.assert_array_equal(w.data, [1.0, 2.0])  # unchanged


def test_trust_01_update_writes_into_the_same_memory():
    data = np.array([1.0, 2.0], dtype=np.float32)
    w = Tensor(data, requires_grad=True)
    with no_grad():
        w *= 3
        w += Tensor([1.0, 1.0])
        w /= 2
    assert w.data is data
    np.testing.assert_allclose(data, [2.0, 3.5])


def test_trust_01_in_place_op_on_a_non_leaf_is_recorded():
    a = Tensor([1.0, 2.0], requires_grad=True)
    y = a * 2
    y *= a                       # y = 2 a^2
    y += 1
    assert y.grad_fn.name == "Add"
    y.sum().backward()
    np.testing.assert_allclose(a.grad.data, [4.0, 8.0])  # d(2a^2)/da = 4a


def test_trust_01_constant_updated_with_a_tensor_that_requires_grad_joins_the_graph():
    total = Tensor([0.0, 0.0])
    a = Tensor([1.0, 3.0], requires_grad=True)
    total += a * a
    assert total.requires_grad and not total.is_leaf
    total.sum().backward()
    np.testing.assert_allclose(a.grad.data, [2.0, 6.0])


def test_trust_01_update_of_itself():
    a = Tensor([1.0, 2.0], requires_grad=True)
    y = a * 3
    y += y                       # 6 a
    y.sum().backward()
    np.testing.assert_allclose(a.grad.data, [6.0, 6.0])


def test_trust_01_recorded_updates_have_correct_second_derivatives():
    def f(x):
        y = x * 1.0
        y *= x                   # x^2
        y -= x.exp()
        y /= 2.0
        return y

    check_grad(f, np.array([0.3, -0.7, 1.1]), order=2)


def test_trust_01_setitem_outside_and_inside_the_graph():
    t = Tensor([1.0, 2.0, 3.0])
    t[0] = 5
    t[1:] = Tensor([7.0, 8.0])
    np.testing.assert_array_equal(t.data, [5.0, 7.0, 8.0])
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = Tensor([4.0], requires_grad=True)
    b = a * 1
    b[1:2] = v * 2
    (b * Tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(b.data, [1.0, 8.0, 3.0])
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.0, 100.0])   # the overwritten one: 0
    np.testing.assert_array_equal(v.grad.data, [20.0])


def test_trust_01_fill_zero_and_copy():
    t = Tensor([1.0, 2.0])
    assert t.zero_() is t
    np.testing.assert_array_equal(t.data, [0.0, 0.0])
    t.fill_(3)
    np.testing.assert_array_equal(t.data, [3.0, 3.0])
    t.copy_(np.array([5, 6]))
    np.testing.assert_array_equal(t.data, [5.0, 6.0])
    a = Tensor([1.0, 2.0], requires_grad=True)
    y = a * 1
    y.copy_(a * a)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 4.0])


def test_trust_01_in_place_errors_change_nothing():
    t = Tensor([1.0, 2.0])
    with pytest.raises(ShapeError, match=r"add_: an operand of shape \(3,\) does not broadcast"):
        t += Tensor([1.0, 2.0, 3.0])
    ints = Tensor(np.array([1, 2]))
    with pytest.raises(DtypeError, match=r"div_: the result has dtype float64.*int64"):
        ints /= 2
    with pytest.raises(ValueError, match=r"add_: this tensor's memory is read-only"):
        Tensor([1.0, 2.0]).expand(3, 2).add_(1)
    a = Tensor([1.0, 2.0], requires_grad=True)
    y = a * 1
    with pytest.raises(ShapeError, match="mul_"):
        y *= Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    assert y.grad_fn.name == "Mul" and y.shape == (2,)
    y.sum().backward()                           # the graph is as it was
    np.testing.assert_array_equal(a.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(t.data, [1.0, 2.0])


# ---- add_ and sub_ with alpha: PyTorch's scaled update, in one pass ------------------------

def _alpha_route(route, monkeypatch):
    if route == "blas":
        pytest.importorskip("scipy", reason="the BLAS route needs scipy (the fast extra)")
    else:
        monkeypatch.setattr(inplace_module, "_blas_axpy", dict)  # no BLAS: numpy's two steps


@pytest.mark.parametrize("route", ["blas", "numpy"])
@pytest.mark.parametrize("method, sign", [("add_", 1), ("sub_", -1)])
def test_alpha_update_under_no_grad_is_numpys_in_the_same_memory(route, method, sign,
                                                                  monkeypatch):
    _alpha_route(route, monkeypatch)

    @given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
           alpha=st.floats(-4, 4) | st.integers(-3, 3))
    def check(data, dtype, alpha):
        shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
        fits = hnp.broadcastable_shapes(shape, min_side=0, max_dims=len(shape)).filter(
            lambda s: np.broadcast_shapes(shape, s) == shape)    # broadcasts to w's shape
        other_shape = data.draw(fits, label="other's shape")
        values = st.floats(-10, 10, width=32)
        w = data.draw(hnp.arrays(dtype, shape, elements=values))
        g = data.draw(hnp.arrays(dtype, other_shape, elements=values))
        if w.ndim > 1 and data.draw(st.booleans(), label="column-major"):
            w, g = np.asfortranarray(w), np.asfortranarray(g)
        t = Tensor(w.copy(order="K"), requires_grad=True)
        array, version = t.data, function_module.version(t.data)
        with no_grad():
            assert getattr(t, method)(Tensor(g), alpha=alpha) is t
        expected = w + sign * dtype(alpha) * g.astype(np.float64)
        scale = np.abs(w).max(initial=0) + abs(alpha) * np.abs(g).max(initial=0)
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(t.data, expected, rtol=4 * eps, atol=4 * eps * scale)
        assert t.data is array and t.dtype == dtype              # its own memory, updated
        assert function_module.version(array) == version + 1     # seen as a write

    check()


def test_alpha_update_inside_the_graph_is_recorded_with_its_derivatives():
    def f(a, b):
        y = a * 1.0
        y.add_(b, alpha=2.5)     # a + 2.5 b
        y.sub_(a * b, alpha=-0.5)  # ... + 0.5 a b
        return y

    check_grad(f, np.array([0.3, -0.7, 1.1]), np.array([1.5, 0.2, -0.4]), order=2)


def test_alpha_update_of_integers_takes_a_whole_alpha():
    t = Tensor(np.array([1, 2], dtype=np.int64))
    t.add_(Tensor(np.array([3, 4])), alpha=2)
    t.sub_(Tensor(np.array([1, 1])), alpha=np.int64(3))
    assert t.dtype == np.int64
    np.testing.assert_array_equal(t.data, [4, 7])
    with pytest.raises(DtypeError, match=r"add_: alpha=0.5 is a float.*integers.*int64"):
        t.add_(Tensor(np.array([1, 1])), alpha=0.5)
    np.testing.assert_array_equal(t.data, [4, 7])    # unchanged


@pytest.mark.parametrize("bad", ["2", Tensor([2.0]), None, 1j])
def test_alpha_must_be_a_number(bad):
    t = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"sub_: alpha must be a Python or numpy number"):
        t.sub_(Tensor([1.0, 1.0]), alpha=bad)
    np.testing.assert_array_equal(t.data, [1.0, 2.0])


@pytest.mark.parametrize("route", ["blas", "numpy"])
def test_alpha_update_errors_change_nothing(route, monkeypatch):
    _alpha_route(route, monkeypatch)
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(GraphError, match=r"sub_: a leaf tensor that requires grad"):
        w.sub_(Tensor([1.0, 1.0]), alpha=0.5)
    with no_grad(), pytest.raises(ShapeError, match=r"sub_: an operand of shape \(3,\)"):
        w.sub_(Tensor([1.0, 1.0, 1.0]), alpha=0.5)
    frozen = np.array([1.0, 2.0], dtype=np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"add_: this tensor's memory is read-only"):
        Tensor(frozen).add_(Tensor([1.0, 1.0]), alpha=2.0)
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
    np.testing.assert_array_equal(frozen, [1.0, 2.0])


def test_alpha_update_after_the_forward_pass_makes_backward_refuse():
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w ** 3).sum()
    with no_grad():
        w.sub_(Tensor([1.0, 1.0]), alpha=0.1)
    with pytest.raises(GraphError, match=STALE):
        loss.backward()


# ---- item 2: the version check -------------------------------------------------------------

def test_trust_02_backward_after_an_optimiser_step_refuses():
    from tinygrad_edu import optim
    w = Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    l1, l2 = (w * w).sum(), (w ** 3).sum()
    l1.backward()
    opt.step()
    opt.zero_grad()
    with pytest.raises(GraphError,
                       match=rf"input 0 of Pow \(shape \(2,\).*{STALE}"):
        l2.backward()
    assert w.grad is None


def test_trust_02_a_write_through_a_view_is_seen():
    weight = Tensor(np.ones((3, 2), np.float32), requires_grad=True)   # Linear's layout
    x = Tensor(np.ones((4, 2), np.float32), requires_grad=True)
    out = (x @ weight.T).sum()                 # MatMul saved a view of weight
    with no_grad():
        weight -= 1
    with pytest.raises(GraphError, match=f"input 1 of MatMul .*{STALE}"):
        out.backward()


def test_trust_02_a_write_to_an_output_a_rule_uses_is_seen():
    a = Tensor([1.0, 2.0], requires_grad=True)
    e = a.exp()
    with no_grad():
        e += 1
    with pytest.raises(GraphError, match=f"the output of Exp .*{STALE}"):
        e.sum().backward()


def test_trust_02_a_recorded_update_keeps_the_values_earlier_nodes_saved():
    a = Tensor([1.0, 2.0], requires_grad=True)
    e = a.exp()
    e += 1                       # recorded: Exp's output keeps its value
    e.sum().backward()
    np.testing.assert_allclose(a.grad.data, np.exp([1.0, 2.0]), rtol=1e-6)


def test_trust_02_a_node_that_took_the_updated_tensor_sees_its_old_value():
    a = Tensor([1.0, 2.0], requires_grad=True)
    y = a * 2
    z = y + 1                    # uses y before the update: its gradient must not pass through it
    y *= 3
    (z + y).sum().backward()     # z + y = 2a + 1 + 6a
    np.testing.assert_array_equal(a.grad.data, [8.0, 8.0])


def test_trust_02_an_update_that_uses_its_own_tensor_is_right():
    a = Tensor([1.0, 2.0, 4.0], requires_grad=True)
    y = a * 1
    y -= y.mean()                # Sum took y before the update
    (dy,) = grad((y * Tensor([1.0, 2.0, 3.0])).sum(), a)
    np.testing.assert_allclose(dy.data, [-1.0, 0.0, 1.0])   # w - mean(w)
    b = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = b * 1
    y[1] += 10.0                 # a view's update writes through to y
    np.testing.assert_array_equal(y.data, [[1.0, 2.0], [13.0, 14.0]])
    (y * y).sum().backward()
    np.testing.assert_array_equal(b.grad.data, 2 * y.data)


def test_trust_02_an_update_of_a_view_reaches_the_viewed_tensor():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[0:2].mul_(10)
    np.testing.assert_array_equal(y.data, [10.0, 20.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [10.0, 10.0, 1.0])
    w = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    with pytest.raises(GraphError, match="zero_: this tensor .* is a view of a leaf tensor"):
        w[0].zero_()
    buffer = Tensor.zeros(3)
    with pytest.raises(GraphError, match="copy_: this tensor .* shares memory with another"):
        buffer[0:2].copy_(Tensor([1.0, 2.0], requires_grad=True))


def test_trust_02_updates_through_views_have_correct_gradients():
    def f(x):
        y = x * 1.0
        y[0:2].mul_(x[1:3])      # a view updated with a tensor that needs a gradient
        y.reshape(2, 2).T[0] += 1.0                 # a view of a view
        y[3] = y[0] * y[3]
        y -= y.mean()
        return y * y

    check_grad(f, np.array([0.3, -0.7, 1.1, 0.5]), order=2)


def test_trust_02_kept_indices_masks_and_operands_are_copies():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    index = Tensor(np.array([0, 0, 1]))
    y = x[index]
    index[0] = 2                 # the caller reuses its index
    (y * Tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [11.0, 100.0, 0.0])
    x.grad, buffer, loss = None, np.empty(3, np.float32), 0
    for k in range(2):           # a reused numpy buffer as an operand
        buffer[:] = k + 1
        loss = loss + (x * buffer).sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0, 3.0])


def test_trust_02_repeated_indices_in_a_tuple_accumulate():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x[(0, 0), (1, 1)].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])


def test_trust_02_load_state_dict_and_detach_count_as_writes():
    model = nn.Linear(2, 2, rng=0)
    out = (model(Tensor([[1.0, 2.0]])) ** 2).sum()
    model.load_state_dict(nn.Linear(2, 2, rng=1).state_dict())
    with pytest.raises(GraphError, match=STALE):
        out.backward()
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.detach().add_(1)           # the detached tensor shares w's memory
    with pytest.raises(GraphError, match=STALE):
        loss.backward()


def test_trust_02_data_is_the_escape_hatch():
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.data[0] = 10.0             # .data bypasses the check, as in PyTorch
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [20.0, 4.0])


def test_trust_02_version_counts_writes():
    w = Tensor([1.0, 2.0], requires_grad=True)
    assert function_module.version(w.data) == 0
    with no_grad():
        w -= 1
        w.T.mul_(2)              # through a view
    assert function_module.version(w.data) == 2


def test_trust_02_writes_before_the_forward_pass_are_fine():
    w = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        w -= 1
    loss = (w ** 3).sum()
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [0.0, 3.0])


def test_trust_02_grad_checks_too():
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w ** 3).sum()
    with no_grad():
        w += 1
    with pytest.raises(GraphError, match=STALE):
        grad(loss, w)


class InPlaceRules(RuleBasedStateMachine):
    """Random sequences of forward passes, updates and backward calls on one parameter,
    against a model of PyTorch's rules: a loss built before an update of w refuses to
    backpropagate (PyTorch refuses where an op saved w; here every op checks its inputs);
    any other gives the closed-form gradient at the values it saw."""

    def __init__(self):
        super().__init__()
        self.w = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
        self.version = 0
        self.losses = []         # (loss tensor, w's values then, w's version then, power)

    @rule(power=st.sampled_from([1, 2, 3]), scale=st.sampled_from([1.0, -2.0]))
    def forward(self, power, scale):
        loss = ((self.w ** power) * scale).sum() if power > 1 else (self.w * scale).sum()
        self.losses.append((loss, self.w.data.copy(), self.version, power, scale))

    @rule(kind=st.sampled_from(["sub", "mul", "setitem", "copy"]),
          value=st.floats(-2, 2, allow_nan=False))
    def update(self, kind, value):
        with no_grad():
            if kind == "sub":
                self.w -= value
            elif kind == "mul":
                self.w *= value
            elif kind == "setitem":
                self.w[1] = value
            else:
                self.w.copy_(np.full(3, value))
        self.version += 1

    @rule()
    def update_in_grad_mode_refuses(self):
        before = self.w.data.copy()
        with pytest.raises(GraphError, match="leaf tensor that requires grad"):
            self.w += 1.0
        np.testing.assert_array_equal(self.w.data, before)

    @precondition(lambda self: self.losses)
    @rule(data=st.data())
    def backward(self, data):
        i = data.draw(st.integers(0, len(self.losses) - 1))
        loss, w_then, version_then, power, scale = self.losses.pop(i)
        self.w.grad = None
        if version_then != self.version:  # every op checks its inputs (stricter than PyTorch)
            with pytest.raises(GraphError, match=STALE):
                loss.backward()
            assert self.w.grad is None
        else:
            loss.backward()
            expected = scale * power * w_then ** (power - 1)
            np.testing.assert_allclose(self.w.grad.data, expected, rtol=1e-12)

    @invariant()
    def w_stays_a_leaf(self):
        assert self.w.is_leaf and self.w.requires_grad


InPlaceRules.TestCase.settings = settings(max_examples=30, stateful_step_count=12)
test_trust_02_in_place_rules_hold_in_random_sequences = InPlaceRules.TestCase


# ---- item 3: threads -----------------------------------------------------------------------

def test_trust_03_concurrent_backward_into_one_leaf_loses_nothing():
    w = Tensor(np.zeros(2_000_000, np.float32), requires_grad=True)

    def work():
        for _ in range(30):
            (w * 1.0).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(w.grad.data, np.full(w.shape, 240.0, np.float32))


def test_trust_03_graphs_in_separate_threads_stay_independent():
    results = {}

    def work(k):
        x = Tensor(np.full(3, float(k)), requires_grad=True)
        for _ in range(20):
            x.grad = None
            (x ** 2).sum().backward()
        results[k] = x.grad.data.copy()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, g in results.items():
        np.testing.assert_array_equal(g, np.full(3, 2.0 * k))


# ---- item 7: min on integers -----------------------------------------------------------------

@pytest.mark.parametrize(("values", "dtype", "expected"), [
    ([0, 5, 255], np.uint8, 0), ([0, -2**31], np.int32, -2**31), ([True, False], np.bool_, False),
])
def test_trust_07_min_of_integers_and_bools_is_exact(values, dtype, expected):
    t = Tensor(np.array(values, dtype=dtype))
    assert t.min().item() == expected
    assert minimum(t, t).data.tolist() == np.array(values, dtype=dtype).tolist()


def test_trust_07_shipped_images_have_per_image_minimum_zero():
    from tinygrad_edu.data import mnist_sample
    images = Tensor(mnist_sample("test")[0][:50])
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(50, -1).min(1).values.data,
                                  images.data.reshape(50, -1).min(1))


@given(st.lists(st.integers(-2**31, 2**31 - 1), min_size=1, max_size=20))
def test_trust_07_min_matches_numpy_on_int32(values):
    data = np.array(values, dtype=np.int32)
    assert Tensor(data).min().item() == data.min()
    np.testing.assert_array_equal(minimum(Tensor(data), Tensor(data[::-1])).data,
                                  np.minimum(data, data[::-1]))


def test_trust_07_float_min_gradient_still_splits_ties():
    x = Tensor([[1.0, 1.0, 3.0]], requires_grad=True)
    x.min(1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.5, 0.5, 0.0]])


# ---- item 8: bad operands --------------------------------------------------------------------

@pytest.mark.parametrize("bad", [None, "2", [1.0, None], ["a"], np.array(["a"])])
def test_trust_08_tensor_refuses_what_is_not_a_number(bad):
    with pytest.raises(TypeError, match="Tensor: cannot make a tensor from"):
        Tensor(bad)


@pytest.mark.parametrize("bad", [None, "2", b"2", [None]])
def test_trust_08_arithmetic_refuses_what_is_not_a_number(bad):
    t = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="unsupported operand: a Tensor and"):
        t * bad
    with pytest.raises(TypeError, match="unsupported operand"):
        bad + t


def test_trust_08_python_int_with_integer_tensor_stays_integer():
    t = Tensor(np.array([1, 2], dtype=np.int64))
    assert (t + 2**62).dtype == np.int64
    assert (t + 2**62).data.tolist() == [2**62 + 1, 2**62 + 2]
    assert (2**62 + t).data.tolist() == [2**62 + 1, 2**62 + 2]
    assert (t * 3).data.tolist() == [3, 6]
    with pytest.raises(OverflowError, match="300 does not fit in this tensor's dtype uint8"):
        Tensor(np.array([1], dtype=np.uint8)) + 300


# ---- item 15: Python numbers from one-element tensors --------------------------------------

def test_trust_15_float_int_and_format_of_a_one_element_tensor():
    assert float(Tensor([2.5])) == 2.5
    assert int(Tensor(3.0)) == 3
    assert f"{Tensor([0.12345]):.3f}" == "0.123"
    assert f"{Tensor([1.0, 2.0])}" == str(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"only one-element tensors .* shape \(2,\)"):
        float(Tensor([1.0, 2.0]))


# ---- more of the same kind, found by a sweep after the listed items -------------------------

def test_trust_more_an_unshuffled_batch_cannot_change_the_dataset():
    from tinygrad_edu.data import DataLoader
    images = np.arange(8, dtype=np.float32).reshape(4, 2)
    for xb, _ in DataLoader(images, np.arange(4), batch_size=2):
        x = Tensor(xb)
        with pytest.raises(ValueError, match="sub_: this tensor's memory is read-only"):
            x -= 1.0
        x = x - 1.0                               # the out-of-place form works
    np.testing.assert_array_equal(images, np.arange(8).reshape(4, 2))


def test_trust_more_grad_gives_each_input_a_gradient_of_its_own():
    x, y = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    gx, gy = grad(((x + y) * Tensor([2.0, 2.0])).sum(), [x, y])
    gx *= 10                                      # does not reach gy
    np.testing.assert_array_equal(gy.data, [2.0, 2.0])


def test_trust_more_clamp_takes_tensor_bounds_and_refuses_others():
    x = Tensor([-2.0, 0.5, 3.0], requires_grad=True)
    low = Tensor([-1.0, -1.0, -1.0], requires_grad=True)
    out = x.clamp(min=low, max=2.0)
    out.sum().backward()
    np.testing.assert_array_equal(out.data, [-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(low.grad.data, [1.0, 0.0, 0.0])
    with pytest.raises(TypeError, match="clamp: min must be a number or a Tensor, got str"):
        x.clamp(min="0")
    np.testing.assert_array_equal(Tensor([-2.0, 3.0]).clip(-1, 1).data, [-1.0, 1.0])


def test_trust_more_where_refuses_a_condition_that_is_not_bool():
    from tinygrad_edu import DtypeError, where
    with pytest.raises(DtypeError, match="where: the condition must be bool, got float32"):
        where(Tensor([0.3, 0.0]), Tensor([1.0, 2.0]), 0.0)
