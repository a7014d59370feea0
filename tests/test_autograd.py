"""The graph walk: backward, accumulation, higher derivatives, grad(), no_grad, freeing,
memory, the graph-growth warning, user Functions and detect_anomaly."""

import gc
import threading
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import (
    AnomalyError,
    Function,
    GraphError,
    GraphGrowthWarning,
    Tensor,
    detect_anomaly,
    enable_grad,
    errors,
    grad,
    is_grad_enabled,
    no_grad,
)
from tinygrad_edu.autograd import _topological_order
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import assert_grads_close, check_grad, gradcheck
from tinygrad_edu.testing import strategies as tst

# ---- backward -------------------------------------------------------------------------------


def test_backward_of_a_scalar_seeds_with_one():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


@given(tst.arrays((2, 3)), tst.arrays((2, 3)))
def test_backward_with_a_gradient_computes_a_vector_jacobian_product(x, v):
    t = Tensor(x, requires_grad=True)
    (t * t).backward(v)
    assert_grads_close(t.grad, 2 * x * v)


def test_backward_accepts_gradient_as_a_list_in_the_outputs_dtype():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * 2).backward([1.0, 10.0])
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 20.0])


def test_backward_of_a_leaf_stores_the_gradient_itself():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.backward(Tensor([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


def test_leaf_grad_does_not_share_memory_with_the_given_gradient():
    gradient = Tensor([1.0, 1.0])
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x + 0).backward(gradient)
    x.grad.data *= 5                # an optimizer scaling .grad in place
    np.testing.assert_array_equal(gradient.data, [1.0, 1.0])


def test_grads_accumulate_across_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 12.0])


def test_a_tensor_used_on_several_paths_gets_the_sum():
    x = Tensor([2.0], requires_grad=True)
    y = x * 3
    z = y * y + y.exp() + y     # y reaches z along three paths
    z.backward()
    np.testing.assert_allclose(x.grad.data, 3 * (2 * 6 + np.exp(6) + 1), rtol=1e-6)


@given(tst.arrays(min_dims=1), tst.floats(), tst.floats())
def test_backward_is_linear(x, a, b):
    def f(t):
        return (t * t * t).sum()

    def g(t):
        return t.tanh().sum()

    combined, alone_f, alone_g = (Tensor(x, requires_grad=True) for _ in range(3))
    (a * f(combined) + b * g(combined)).backward()
    f(alone_f).backward()
    g(alone_g).backward()
    assert_grads_close(combined.grad, a * alone_f.grad.data + b * alone_g.grad.data,
                       atol=1e-9, rtol=1e-9)


@given(tst.shapes().flatmap(lambda shape: st.tuples(tst.arrays(shape), tst.arrays(shape))))
def test_grad_of_sum_x_times_y_wrt_x_is_y(arrays):
    x, y = (Tensor(a, requires_grad=True) for a in arrays)
    gx, gy = grad((x * y).sum(), [x, y])
    np.testing.assert_array_equal(gx.data, arrays[1])
    np.testing.assert_array_equal(gy.data, arrays[0])


def test_a_chain_of_100000_ops_backpropagates():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = -y                      # 100,000 nodes deep (the cheapest op): no recursion
    loss = y.sum()
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.data, [1.0])   # an even number of sign changes
    # the retained graph is freed by dropping its root, again without recursion
    # (one test for both: building the chain is the slow part)
    ref = weakref.ref(y.grad_fn)
    del y, loss
    assert ref() is None


def test_a_rule_runs_only_after_every_path_to_its_output_has_arrived():
    # h feeds a 50-op branch and, directly, the last op: h's rule must wait for the long
    # branch although the short path reaches h first. loss = 2^50 x^4, dloss/dx = 4 2^50 x^3
    x = Tensor([1.5], dtype=np.float64, requires_grad=True)
    h = x * x
    long = h
    for _ in range(50):
        long = long * 2.0
    ran = []
    for t in (h, long):
        node = t.grad_fn

        def spy(g, node=node, rule=node.backward):
            ran.append(node)
            return rule(g)
        node.backward = spy
    (h * long).sum().backward()
    assert ran == [long.grad_fn, h.grad_fn]            # each rule once, the long branch first
    np.testing.assert_allclose(x.grad.data, [4 * 2.0**50 * 1.5**3])


def test_topological_order_is_the_order_the_ops_were_recorded():
    x = Tensor([2.0], requires_grad=True)
    a = x.exp()
    b = x.log()                      # recorded after a, although b * a names it first
    product = b * a
    loss = product.sum()
    order = _topological_order([loss])
    assert [id(t) for t in order] == [id(a), id(b), id(product), id(loss)]


def test_retain_grad_keeps_the_grad_of_a_non_leaf():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    other = x * 4
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [6.0, 12.0])
    with pytest.warns(UserWarning, match=r"\.grad of a tensor that is not a leaf .*retain_grad"):
        assert other.grad is None                # as PyTorch: None, with a warning


# ---- freeing the graph ----------------------------------------------------------------------


def test_backward_frees_the_graph_so_a_second_backward_raises():
    x = Tensor([1.0], requires_grad=True)
    loss = (x.exp() * 2).sum()
    loss.backward()
    with pytest.raises(GraphError, match="freed by an earlier backward pass; call the first "
                       r"\.backward\(retain_graph=True\)"):
        loss.backward()


def test_a_backward_that_reaches_a_freed_part_of_the_graph_raises_and_changes_no_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    shared = x.exp()
    shared.sum().backward()                      # frees the node that made `shared`
    x.grad = None
    w = Tensor([3.0], requires_grad=True)
    loss = (shared * w).sum()                    # new ops on top of the freed one
    with pytest.raises(GraphError, match=r"^backward: the graph through Exp was freed"):
        loss.backward()
    assert x.grad is None and w.grad is None     # w's gradient was computed, not handed over


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])


def test_backward_releases_intermediate_tensors():
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = x.exp()
    ref = weakref.ref(hidden)
    loss = (hidden * 2).sum()
    del hidden
    assert ref() is not None       # the graph holds it until backward
    loss.backward()
    assert ref() is None


def test_ops_on_inputs_that_need_no_grad_record_nothing():
    x = Tensor([1.0, 2.0])
    w = Tensor([3.0, 4.0], requires_grad=True)
    assert (x * 2).grad_fn is None and (x.exp() + x).grad_fn is None
    assert (x * w).grad_fn is not None
    assert not (x * 2).requires_grad


# ---- higher derivatives ---------------------------------------------------------------------


def test_create_graph_gives_second_derivatives():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad                  # 3 x^2, itself in a graph
    assert first.requires_grad
    np.testing.assert_array_equal(first.data, [3.0, 12.0])
    x.grad = None
    first.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 12.0])   # 6 x


@given(st.data())
def test_hessian_vector_product_matches_the_analytic_hessian(data):
    n = data.draw(st.integers(1, 4))
    x = data.draw(tst.arrays((n,), min_value=-2.0, max_value=2.0))
    a = data.draw(tst.arrays((n, n)))
    v = data.draw(tst.arrays((n,)))
    t = Tensor(x, requires_grad=True)
    # f = x^T A x / 2 + sum(exp(x)): Hessian (A + A^T) / 2 + diag(exp(x))
    f = (t @ Tensor(a) @ t) * 0.5 + t.exp().sum()
    (g,) = grad(f, t, create_graph=True)
    (hv,) = grad((g * Tensor(v)).sum(), t)
    hessian = (a + a.T) / 2 + np.diag(np.exp(x))
    assert_grads_close(hv, hessian @ v, atol=1e-10, rtol=1e-10)


@given(tst.arrays((3, 2), min_value=-1.0, max_value=1.0), tst.arrays((4, 3)))
def test_gradient_penalty_grad_matches_numerical(w, x):
    def penalty(weights):
        inputs = Tensor(x, requires_grad=True)
        out = (inputs @ weights).tanh().sum()
        (dx,) = grad(out, inputs, create_graph=True)
        return ((dx * dx).sum(dim=1) - 1.0).sum() ** 2   # a WGAN-GP style penalty

    assert gradcheck(penalty, [w])


def test_third_derivative_through_create_graph():
    x = Tensor([0.5], requires_grad=True)
    (d1,) = grad((x ** 4).sum(), x, create_graph=True)
    (d2,) = grad(d1.sum(), x, create_graph=True)
    (d3,) = grad(d2.sum(), x)
    np.testing.assert_allclose(d3.data, [24 * 0.5])


# ---- grad() ---------------------------------------------------------------------------------


def test_grad_returns_gradients_without_touching_dot_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([3.0, 4.0], requires_grad=True)
    gx, gy = grad((x * y).sum(), [x, y])
    np.testing.assert_array_equal(gx.data, [3.0, 4.0])
    np.testing.assert_array_equal(gy.data, [1.0, 2.0])
    assert x.grad is None and y.grad is None


def test_grad_of_several_outputs_is_summed_and_takes_grad_outputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (g,) = grad([x * 2, x * x], x, grad_outputs=[Tensor([1.0, 1.0]), Tensor([1.0, 10.0])])
    np.testing.assert_array_equal(g.data, [2.0 + 2.0, 2.0 + 40.0])


def test_grad_with_respect_to_an_intermediate_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (gh,) = grad((h * h).sum(), h)
    np.testing.assert_array_equal(gh.data, [6.0, 12.0])


def test_grad_allow_unused_returns_none():
    x = Tensor([1.0], requires_grad=True)
    unused = Tensor([1.0], requires_grad=True)
    gx, gu = grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 2.0
    with pytest.raises(GraphError, match=r"input 1 \(shape \(1,\)\) is not used.*"
                       "allow_unused=True"):
        grad((x * 2).sum(), [x, unused])


def test_grad_frees_the_graph_unless_told_to_retain_it():
    x = Tensor([1.0], requires_grad=True)
    out = (x * x).sum()
    grad(out, x, retain_graph=True)
    grad(out, x)
    with pytest.raises(GraphError, match="freed"):
        grad(out, x)


def test_grad_with_create_graph_keeps_the_graph():
    x = Tensor([3.0], requires_grad=True)
    out = (x ** 2).sum()
    (g,) = grad(out, x, create_graph=True)
    (again,) = grad(out, x)        # still there: retain_graph defaults to create_graph
    assert g.requires_grad and again.item() == g.item() == 6.0


# ---- no_grad --------------------------------------------------------------------------------


def test_no_grad_records_nothing_inside():
    w = Tensor([1.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = w * 2
    assert is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_as_a_decorator():
    w = Tensor([1.0], requires_grad=True)

    @no_grad()
    def predict(t):
        """Inference."""
        return t * 2

    y = predict(w)
    assert not y.requires_grad and predict.__name__ == "predict" and is_grad_enabled()


def test_enable_grad_inside_no_grad_and_nesting():
    w = Tensor([1.0], requires_grad=True)
    with no_grad():
        with enable_grad():
            assert (w * 2).requires_grad
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError), no_grad():
        raise KeyError("inside the block")
    assert is_grad_enabled()


def test_no_grad_is_per_thread():
    w = Tensor([1.0], requires_grad=True)
    seen = {}

    def other_thread():
        seen["enabled"] = is_grad_enabled()
        seen["records"] = (w * 2).requires_grad
        with no_grad():
            seen["inner"] = is_grad_enabled()

    with no_grad():
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        assert not is_grad_enabled()
    assert seen == {"enabled": True, "records": True, "inner": False}
    assert is_grad_enabled()


def test_a_no_grad_decorated_function_called_from_two_threads_at_once():
    # thread A enters, thread B (already in no_grad) enters, A leaves first: A must get its
    # own mode back, not the one B saved
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    @no_grad()
    def run(body):
        body()

    def thread_a():
        run(lambda: (a_inside.set(), b_inside.wait(5)))
        seen["a_after"] = is_grad_enabled()
        a_left.set()

    def thread_b():
        a_inside.wait(5)
        with no_grad():
            run(lambda: (b_inside.set(), a_left.wait(5)))
            seen["b_after_call"] = is_grad_enabled()
        seen["b_after_block"] = is_grad_enabled()

    workers = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert seen == {"a_after": True, "b_after_call": False, "b_after_block": True}


# ---- memory across training steps ----------------------------------------------------------


def _mlp_step(params, x, labels, lr=0.1):
    w1, b1, w2, b2 = params
    logits = (Tensor(x) @ w1 + b1).relu() @ w2 + b2
    loss = F.cross_entropy(logits, labels)
    node = weakref.ref(loss.grad_fn)
    for p in params:
        p.grad = None
    loss.backward()
    with no_grad():
        for p in params:
            p.data -= lr * p.grad.data
    return loss.item(), node


def _mlp(rng):
    return [Tensor(rng.standard_normal((4, 8)) * 0.5, requires_grad=True),
            Tensor(np.zeros(8), requires_grad=True),
            Tensor(rng.standard_normal((8, 3)) * 0.5, requires_grad=True),
            Tensor(np.zeros(3), requires_grad=True)]


def test_no_graph_node_survives_a_training_step():
    rng = np.random.default_rng(0)
    params, x, labels = _mlp(rng), rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    _, node = _mlp_step(params, x, labels)
    assert node() is None
    assert all(p.grad.grad_fn is None for p in params)


def test_1000_training_steps_do_not_grow_memory():
    rng = np.random.default_rng(0)
    params, x, labels = _mlp(rng), rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    first_loss, _ = _mlp_step(params, x, labels)
    for _ in range(2, 101):
        _mlp_step(params, x, labels)
    gc.collect()
    tracemalloc.start()             # traces what is allocated from step 100 on
    try:
        after_100 = tracemalloc.get_traced_memory()[0]
        for _ in range(101, 1001):
            loss, _ = _mlp_step(params, x, labels)
        gc.collect()
        after_1000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # one leaked graph per step would be ~900 x several KiB; allow 16 KiB of noise
    assert after_1000 <= after_100 + 16 * 1024, (after_100, after_1000)
    assert loss < first_loss


# ---- the graph-growth warning ---------------------------------------------------------------


@pytest.fixture
def fresh_warnings(monkeypatch):
    """Forget which once-only warnings were given, so this test sees them."""
    monkeypatch.setattr(errors, "_warned", set())


def test_running_total_of_losses_warns_once_with_the_fix(fresh_warnings):
    w = Tensor([1.0, -1.0], requires_grad=True)
    total_loss = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            loss = (w * w).sum()
            total_loss += loss     # the classic bug: the total keeps every step's graph
            loss.backward()
    growth = [c for c in caught if issubclass(c.category, GraphGrowthWarning)]
    assert len(growth) == 1
    assert "total_loss += loss" in str(growth[0].message)
    assert "loss.item()" in str(growth[0].message)
    assert growth[0].filename == __file__   # points at the user's line, not the engine


def test_a_correct_running_total_does_not_warn(fresh_warnings):
    w = Tensor([1.0, -1.0], requires_grad=True)
    total_loss = 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            loss = (w * w).sum()
            total_loss += loss.item()
            loss.backward()
            with no_grad():
                w.data -= 0.1 * w.grad.data
            w.grad = None
    assert caught == []


# ---- user Functions -------------------------------------------------------------------------


class Softplus(Function):
    """out = log(1 + exp(x)), computed without overflow"""

    def forward(self, x):
        return np.logaddexp(0.0, x)

    def backward(self, grad):
        (x,) = self.inputs
        return grad * x.sigmoid()       # dout/dx = sigmoid(x)


@given(tst.arrays(min_value=-20.0, max_value=20.0))
def test_a_user_function_passes_gradcheck_and_gradgradcheck(x):
    check_grad(lambda t: Softplus.apply(t), x, order=2)


def test_a_user_function_records_itself_in_the_graph():
    x = Tensor([0.0], requires_grad=True)
    out = Softplus.apply(x)
    assert out.grad_fn.name == "Softplus"
    np.testing.assert_allclose(out.data, [np.log(2.0)])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.5])


def test_apply_lifts_numbers_and_arrays_to_constants_in_the_first_tensors_dtype():
    from tinygrad_edu import ops

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = ops.Mul.apply(3, x)                          # a number before the Tensor
    assert y.dtype == np.float32
    z = ops.Add.apply(y, np.array([0.5, 0.5]))       # an array keeps its own dtype
    assert z.dtype == np.float64
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    assert ops.Add.apply(1.0, 2.0).dtype == np.float32   # no Tensor: numbers become float32


def test_a_function_whose_backward_returns_too_few_gradients_says_so():
    class Product(Function):
        def forward(self, x, y):
            return x * y

        def backward(self, grad):
            x, y = self.inputs
            return grad * y                  # forgot dout/dy

    x, y = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    with pytest.raises(GraphError, match=r"^Product\.backward returned 1 gradients for 2 inputs; "
                       r"return one Tensor \(or None\) per input"):
        Product.apply(x, y).sum().backward()


def test_a_function_whose_backward_returns_numpy_says_so():
    class Twice(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return 2 * grad.data             # numpy: not a Tensor

    with pytest.raises(TypeError, match=r"^Twice\.backward returned a ndarray, not a Tensor; "
                       "build gradients with Tensor ops"):
        Twice.apply(Tensor([1.0], requires_grad=True)).sum().backward()


def test_a_backward_that_fails_part_way_leaves_every_grad_as_it_was():
    class Broken(Function):
        def forward(self, x):
            return x.copy()

        def backward(self, grad):
            raise ValueError("Broken.backward: deliberately broken")

    w, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0], requires_grad=True)
    w.grad = Tensor([10.0, 20.0])
    loss = (Broken.apply(w) * b).sum()              # b's gradient is ready before Broken runs
    with pytest.raises(ValueError, match="deliberately broken"):
        loss.backward()
    np.testing.assert_array_equal(w.grad.data, [10.0, 20.0])
    assert b.grad is None


def test_a_function_without_forward_says_so():
    class Empty(Function):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        Empty.apply(Tensor([1.0]))


# ---- detect_anomaly -------------------------------------------------------------------------


def test_detect_anomaly_names_the_op_whose_forward_made_nan():
    x = Tensor([-1.0, 1.0], requires_grad=True)
    with pytest.raises(AnomalyError, match=r"Log\.forward produced NaN"), detect_anomaly():
        x.log()


def test_detect_anomaly_names_the_op_whose_forward_made_inf():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(AnomalyError, match=r"Div\.forward produced Inf .*input shapes "
                       r"\(2,\), \(2,\)"), detect_anomaly():
        x / Tensor([0.0, 1.0])


def test_detect_anomaly_names_the_op_whose_backward_made_inf():
    x = Tensor([0.0, 4.0], requires_grad=True)
    y = x.sqrt()                   # finite forward; d sqrt/dx = 1 / (2 sqrt(0)) is Inf
    with pytest.raises(AnomalyError, match=r"Sqrt\.backward produced Inf"), detect_anomaly():
        y.sum().backward()


def test_detect_anomaly_names_the_op_whose_backward_made_nan():
    x = Tensor([0.0], requires_grad=True)
    y = x.sqrt() * 0.0             # backward: 0 * Inf = NaN inside Sqrt's rule
    with pytest.raises(AnomalyError, match=r"Sqrt\.backward produced NaN"), detect_anomaly():
        y.sum().backward()


def test_detect_anomaly_is_off_outside_its_block():
    with detect_anomaly():
        Tensor([1.0]).log()
    with np.errstate(divide="ignore"):  # the Inf is expected: nothing checks it any more
        out = Tensor([0.0], requires_grad=True).log()
    assert np.isinf(out.data).all()


def test_grad_walks_only_the_paths_to_its_inputs():
    """grad(out, [x]) does not run backward rules on branches that cannot reach x."""
    from tinygrad_edu import Function, grad

    class Untouchable(Function):
        """out = x, whose backward must not run"""

        def forward(self, x):
            return x.copy()

        def backward(self, grad):
            raise AssertionError("grad() ran a rule on a branch that does not lead to x")

    x = Tensor([2.0], requires_grad=True)
    w = Tensor([3.0], requires_grad=True)
    out = (x * x).sum() + Untouchable.apply(w).sum()
    (dx,) = grad(out, [x])
    np.testing.assert_allclose(dx.data, [4.0])


def test_create_graph_gives_each_leaf_a_grad_of_its_own():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward(create_graph=True)       # the Add rule hands both the same g
    assert x.grad is not y.grad and not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data[0] = 7.0
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def test_create_graph_grads_stay_differentiable_and_seed_is_not_stored():
    x = Tensor([1.5, -2.0], requires_grad=True)
    seed = Tensor([1.0, 1.0])
    (x * x).backward(seed, create_graph=True)
    assert x.grad.grad_fn is not None                # 2 x, recorded
    np.testing.assert_array_equal(x.grad.data, [3.0, -4.0])
    gx = x.grad
    x.grad = None
    gx.sum().backward()                              # d/dx sum(2 x) = 2
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    leaf, leaf_seed = Tensor([2.0], requires_grad=True), Tensor([5.0])
    leaf.backward(leaf_seed, create_graph=True)      # a leaf root: its grad is the seed's copy
    assert not np.shares_memory(leaf.grad.data, leaf_seed.data) and leaf.grad.data[0] == 5.0


def test_clone_copies_and_passes_the_gradient_through():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert not np.shares_memory(x.data, y.data) and y.grad_fn is not None
    check_grad(lambda t: t.clone() * t, np.array([0.5, -1.5]), order=2)
