"""The engine's fast paths give the numbers of the plain rules.

Each speed-up in the engine (a reused softmax, in-place accumulation, skipped work) has a
test here that compares it with the closed form or with central differences, and checks
what must not change: second derivatives, the caller's arrays, the graph's lifetime.
"""

import gc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Function, Tensor, grad, no_grad, ops
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import assert_grads_close, check_grad
from tinygrad_edu.testing.strategies import (
    arrays,
    broadcastable_arrays,
    logits_and_targets,
    matmul_arrays,
    mlp_params,
)


def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@given(case=logits_and_targets(kind="index"), reduction=st.sampled_from(["mean", "sum"]))
def test_cross_entropy_grad_is_softmax_minus_onehot(case, reduction):
    logits, labels = case
    x = Tensor(logits, requires_grad=True)
    F.cross_entropy(x, labels, reduction=reduction).backward()
    expected = _softmax(logits, 1) - np.eye(logits.shape[1])[labels]
    if reduction == "mean":
        expected /= len(labels)
    assert_grads_close(x.grad, expected, name="dL/dlogits")


@given(case=logits_and_targets(kind="soft"))
def test_cross_entropy_soft_target_grad_is_softmax_times_sum_minus_target(case):
    logits, target = case
    target = target * 1.5  # rows summing to 1.5: the sum(y) factor must show
    x = Tensor(logits, requires_grad=True)
    F.cross_entropy(x, target, reduction="sum").backward()
    expected = _softmax(logits, 1) * target.sum(1, keepdims=True) - target
    assert_grads_close(x.grad, expected, name="dL/dlogits")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kind", ["index", "soft"])
def test_cross_entropy_second_derivative_matches_numerical(kind, reduction):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4))
    target = rng.integers(0, 4, size=3) if kind == "index" else _softmax(rng.normal(size=(3, 4)), 1)
    check_grad(lambda x: F.cross_entropy(x, target, reduction=reduction), logits, order=2)


@given(x=arrays((3, 5)))
def test_softmax_with_given_value_matches_softmax(x):
    a, b = Tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    v = np.random.default_rng(1).normal(size=(3, 5))
    ops.Softmax.apply(a, dim=1).backward(v)
    ops.Softmax.apply(b, dim=1, value=_softmax(x, 1)).backward(v)
    assert_grads_close(b.grad, a.grad, name="softmax grad")


def _mlp_loss(params, x, labels, layout):
    a = x
    for i, (w, b) in enumerate(params):
        a = a @ w + b if layout == "rows" else w @ a + b
        if i < len(params) - 1:
            a = a.relu()
    return F.cross_entropy(a if layout == "rows" else a.T, labels)


def _seed_formula_grads(params, x, labels, layout):
    """The seeds' closed forms (000-dZ2 ... 000-db1, 001-eq38) in plain numpy."""
    rows = layout == "rows"
    acts, zs = [x], []
    for w, b in params:
        zs.append(acts[-1] @ w + b if rows else w @ acts[-1] + b)
        acts.append(np.maximum(zs[-1], 0))
    m = len(labels)
    onehot = np.eye(zs[-1].shape[1 if rows else 0])[labels]
    dz = (_softmax(zs[-1], 1 if rows else 0) - (onehot if rows else onehot.T)) / m
    grads = []
    for i in reversed(range(len(params))):
        w = params[i][0]
        dw = acts[i].T @ dz if rows else dz @ acts[i].T
        db = dz.sum(0) if rows else dz.sum(1, keepdims=True)
        grads = [dw, db] + grads
        if i:
            dz = (dz @ w.T if rows else w.T @ dz) * (zs[i - 1] > 0)
    return grads


@given(data=st.data(), layout=st.sampled_from(["rows", "columns"]))
def test_mlp_grads_match_seed_formulas(data, layout):
    params = data.draw(mlp_params(layout=layout, min_layers=1, max_layers=3, min_width=2))
    n_in, n_out = params[0][0].shape[0 if layout == "rows" else 1], (
        params[-1][0].shape[1 if layout == "rows" else 0])
    m = data.draw(st.integers(1, 4))
    x = data.draw(arrays((m, n_in) if layout == "rows" else (n_in, m)))
    labels = np.arange(m) % n_out
    ts = [(Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)) for w, b in params]
    _mlp_loss(ts, Tensor(x), labels, layout).backward()
    expected = _seed_formula_grads(params, x, labels, layout)
    got = [t.grad for pair in ts for t in pair]
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert_grads_close(g, e, name=f"parameter {i}")


def test_mlp_second_derivatives_match_numerical():
    rng = np.random.default_rng(2)
    w1, b1, w2 = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2))
    x, labels = rng.normal(size=(2, 3)), np.array([0, 1])

    def loss(w1, b1, w2):
        return F.cross_entropy((x_t @ w1 + b1).tanh() @ w2, labels)

    x_t = Tensor(x)
    check_grad(loss, w1, b1, w2, order=2)


def test_training_step_leaves_nothing_for_the_cycle_collector():
    rng = np.random.default_rng(3)
    w = Tensor(rng.normal(size=(5, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(3, np.float32), requires_grad=True)
    x, labels = Tensor(rng.normal(size=(4, 5)).astype(np.float32)), np.array([0, 1, 2, 0])

    def step():
        loss = F.cross_entropy((x @ w + b).relu(), labels)
        loss.backward()
        with no_grad():
            for p in (w, b):
                p.data -= 0.1 * p.grad.data
                p.grad = None

    step()
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            step()
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_create_graph_gradient_still_differentiable_after_fast_paths():
    x = Tensor(np.array([[0.5, -1.0, 2.0]]), requires_grad=True)
    (g,) = grad(F.cross_entropy(x, np.array([2])), x, create_graph=True)
    (gg,) = grad((g * g).sum(), x)
    p = _softmax(x.data, 1)
    dx = p - np.array([[0.0, 0.0, 1.0]])
    # d/dx sum(dx^2) = 2 J^T dx, with J = diag(p) - p p^T symmetric
    jac = np.diag(p[0]) - np.outer(p[0], p[0])
    assert_grads_close(gg, 2 * (jac @ dx[0])[None, :], name="d(|dL/dx|^2)/dx")


def test_leaf_used_twice_gets_the_sum_and_the_seed_is_untouched():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    seed = np.array([3.0, 5.0])
    (x + x).backward(seed)                       # Add hands the seed to both inputs
    np.testing.assert_array_equal(x.grad.data, [6.0, 10.0])
    np.testing.assert_array_equal(seed, [3.0, 5.0])


def test_backward_twice_accumulates_without_touching_earlier_grad_arrays():
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    (w * w).sum().backward()
    first = w.grad.data
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [5.0, -1.0])
    np.testing.assert_array_equal(first, [2.0, -4.0])     # the first .grad array is unchanged


def test_user_assigned_grad_is_not_modified_in_place():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    mine = np.array([10.0, 10.0])
    w.grad = Tensor(mine)
    (w * w * w).sum().backward()                 # w reaches the leaf along three paths
    np.testing.assert_allclose(w.grad.data, [13.0, 22.0])
    np.testing.assert_array_equal(mine, [10.0, 10.0])


def test_retained_and_leaf_grads_do_not_share_arrays():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x + 0.0
    y.retain_grad()
    (y * 2.0 + y).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    assert not np.shares_memory(x.grad.data, y.grad.data)


@given(pair=broadcastable_arrays(num=2, max_dims=3))
def test_broadcast_grads_sum_back_to_each_shape(pair):
    x, y = pair
    check_grad(lambda a, b: (a * b + a).sum(), x, y, order=2)


@given(x=arrays(st.sampled_from([(3,), (2, 3), (2, 3, 2)])),
       keepdim=st.booleans(), data=st.data())
def test_sum_grad_matches_numerical_for_any_dims(x, keepdim, data):
    dims = data.draw(st.lists(st.integers(0, x.ndim - 1), unique=True, min_size=1))
    check_grad(lambda a: a.sum(tuple(dims), keepdim=keepdim) ** 2, x, order=2)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_extra_dims_and_one_sample_matches_one_hot(reduction):
    rng = np.random.default_rng(4)
    logits, labels = rng.normal(size=(2, 3, 4)), rng.integers(0, 3, size=(2, 4))
    onehot = np.moveaxis(np.eye(3)[labels], -1, 1)
    check_grad(lambda x: F.cross_entropy(x, labels, reduction=reduction), logits, order=2)
    got = F.cross_entropy(Tensor(logits), labels, reduction=reduction).data
    want = F.cross_entropy(Tensor(logits), onehot, reduction=reduction).data
    np.testing.assert_allclose(got, want, rtol=1e-12)
    single = rng.normal(size=5)
    check_grad(lambda x: F.cross_entropy(x, np.int64(2), reduction=reduction), single, order=2)


def test_cross_entropy_of_transposed_logits_matches_contiguous():
    rng = np.random.default_rng(5)
    z, labels = rng.normal(size=(4, 6)).astype(np.float32), np.array([0, 3, 1, 1, 2, 0])
    a, b = Tensor(z, requires_grad=True), Tensor(np.ascontiguousarray(z.T), requires_grad=True)
    F.cross_entropy(a.T, labels).backward()          # samples as columns, as in document 000
    F.cross_entropy(b, labels).backward()
    np.testing.assert_allclose(a.grad.data, b.grad.data.T, rtol=1e-6)


def test_transpose_records_only_when_needed_and_always_gives_the_view():
    w = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    recorded = w.T
    assert recorded.grad_fn is not None and recorded.requires_grad
    with no_grad():
        plain = w.T
    assert plain.grad_fn is None and not plain.requires_grad
    np.testing.assert_array_equal(plain.data, recorded.data)
    assert np.shares_memory(plain.data, w.data)      # a view, as numpy's .T
    check_grad(lambda a, b: (a.T @ b).sum(), np.ones((3, 2)), np.ones((3, 4)), order=2)


@pytest.mark.parametrize("dim", [0, 1])
@pytest.mark.parametrize("target_kind", ["index", "soft"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_softmax_shift_matches_its_composite_to_second_order(dim, target_kind, per_sample):
    """SoftmaxShift(x, g) = (softmax(x) * sum(y) - y) * g * scale: CrossEntropy's rule as one
    op, with g (one number, or one per sample) an input, so second derivatives reach it too."""
    rng = np.random.default_rng(11)
    x0 = rng.normal(size=(3, 4))
    n_samples = x0.shape[1 - dim]
    g0 = rng.normal(size=n_samples if per_sample else ())
    scale = np.asarray(0.5)
    if target_kind == "index":
        labels = rng.integers(0, x0.shape[dim], size=n_samples)
        index = (labels, np.arange(n_samples)) if dim == 0 else (np.arange(n_samples), labels)
        y = np.zeros_like(x0)
        y[index] = 1
        target = {"index": index}
    else:
        y = rng.uniform(0.1, 1.0, size=x0.shape)
        target = {"target": y}

    def fused(x, g):
        return ops.SoftmaxShift.apply(x, g, dim=dim, probs=_softmax(x.data, dim), scale=scale,
                                      **target)

    g_rows = np.expand_dims(g0, dim) if per_sample else g0
    composite = (_softmax(x0, dim) * y.sum(dim, keepdims=True) - y) * g_rows * scale
    np.testing.assert_allclose(fused(Tensor(x0), Tensor(g0)).data, composite, rtol=1e-12)
    check_grad(fused, x0, g0, order=2)


@given(data=st.data(), batch=st.lists(st.integers(1, 3), max_size=2),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_outer_product_matmul_equals_numpy_matmul_exactly(data, batch, dtype):
    """Inner dim 1 runs as a broadcasting multiply: the same numbers, bit for bit."""
    m, n = data.draw(st.integers(0, 6)), data.draw(st.integers(0, 6))
    x = data.draw(arrays((*batch, m, 1), dtype=dtype))
    y = data.draw(arrays((1, n), dtype=dtype))
    out = (Tensor(x) @ Tensor(y)).data
    expected = np.matmul(x, y)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       transposed=st.booleans())
def test_matrix_product_via_dot_equals_numpy_matmul_exactly(data, dtype, transposed):
    """Two matrices go to np.dot (less overhead per call): the same numbers as np.matmul."""
    m, k, n = (data.draw(st.integers(1, 40)) for _ in range(3))
    x = data.draw(arrays((k, m) if transposed else (m, k), dtype=dtype))
    x = x.T if transposed else x                     # a view, as in MatMul's rule (x.T @ grad)
    y = data.draw(arrays((k, n), dtype=dtype))
    out = (Tensor(x) @ Tensor(y)).data
    np.testing.assert_array_equal(out, np.matmul(x, y))
    assert out.dtype == np.matmul(x, y).dtype


def test_outer_product_matmul_gradients_match_numerical():
    rng = np.random.default_rng(7)
    check_grad(lambda dz, a: (dz @ a.T) ** 2, rng.normal(size=(4, 1)), rng.normal(size=(5, 1)),
               order=2)
    check_grad(lambda x, y: x @ y, rng.normal(size=(2, 3, 1)), rng.normal(size=(1, 4)), order=2)


@given(x=arrays(st.sampled_from([(2, 3, 4), (1, 5, 2)])),
       dims=st.permutations([0, 1, 2]), negative=st.booleans())
def test_permute_backward_inverts_any_order(x, dims, negative):
    dims = [d - 3 if negative else d for d in dims]
    check_grad(lambda t: t.permute(*dims) * Tensor(np.arange(x.size).reshape(
        np.transpose(x, dims).shape)), x, order=2)


# ---- rules on arrays ---------------------------------------------------------------------
# Without create_graph the walk carries plain arrays and runs the rules of ops that set
# `rule_on_arrays` on them; with create_graph the same rules run on Tensors. Both walks must
# give the same gradients (to float rounding: the same numpy calls, in the same order).

def _on_arrays_and_on_tensors(make, *values, seed_grad=None):
    """d make(*inputs) / d inputs, by backward() (rules on arrays) and by grad() with
    create_graph (rules on Tensors), for the output gradient `seed_grad` (ones by default)."""
    xs = [Tensor(v, requires_grad=True) for v in values]
    out = make(*xs)
    seed_grad = np.ones(out.shape, out.dtype) if seed_grad is None else seed_grad
    out.backward(Tensor(seed_grad))
    ys = [Tensor(v, requires_grad=True) for v in values]
    on_tensors = grad(make(*ys), ys, grad_outputs=Tensor(seed_grad), create_graph=True,
                      allow_unused=True)
    for x, g in zip(xs, on_tensors, strict=True):
        assert g is not None and g.requires_grad, "create_graph recorded the rule"
        np.testing.assert_allclose(x.grad.data, g.data, rtol=1e-12, atol=1e-12)
        assert x.grad.dtype == x.dtype and x.grad.shape == x.shape


@given(pair=matmul_arrays())
def test_matmul_rule_on_arrays_equals_rule_on_tensors(pair):
    x, y = pair
    _on_arrays_and_on_tensors(lambda a, b: a @ b, x, y)


@given(data=st.data(), batch=st.sampled_from([(), (2,), (2, 3)]), bias=st.booleans())
def test_linear_rule_on_arrays_equals_rule_on_tensors(data, batch, bias):
    n_in, n_out = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    values = [data.draw(arrays(batch + (3, n_in))), data.draw(arrays((n_out, n_in)))]
    if bias:
        values.append(data.draw(arrays((n_out,))))
    _on_arrays_and_on_tensors(F.linear, *values)


@given(pair=broadcastable_arrays(), op=st.sampled_from(["add", "sub", "mul", "div"]))
def test_elementwise_rules_on_arrays_equal_rules_on_tensors(pair, op):
    x, y = pair
    if op == "div":
        y = np.where(np.abs(y) < 0.5, 2.0, y)        # away from 0
    _on_arrays_and_on_tensors(lambda a, b: getattr(a, op)(b), x, y)


@given(x=arrays(min_value=0.1, max_value=5.0),
       op=st.sampled_from(["neg", "relu", "exp", "log", "log1p", "sqrt", "sigmoid", "tanh"]))
def test_unary_rules_on_arrays_equal_rules_on_tensors(x, op):
    _on_arrays_and_on_tensors(lambda a: getattr(a, op)(), x * np.sign(x - 1) if op in (
        "neg", "relu", "exp", "sigmoid", "tanh") else x)   # both signs where the op allows


@given(x=arrays(shape=(2, 3, 4)), dtype=st.sampled_from([np.float32, np.float64]))
def test_reshape_and_cast_rules_on_arrays_equal_rules_on_tensors(x, dtype):
    _on_arrays_and_on_tensors(lambda a: a.reshape(4, 6).astype(dtype) * 3, x)


@given(data=st.data(), op=st.sampled_from(["sum", "mean"]), keepdim=st.booleans())
def test_reduction_rules_on_arrays_equal_rules_on_tensors(data, op, keepdim):
    shape = data.draw(st.sampled_from([(5,), (3, 4), (2, 3, 70), (3, 1500)]))  # the last: a view
    x = data.draw(arrays(shape))
    dim = data.draw(st.sampled_from([None, 0, -1] + ([(0, x.ndim - 1)] if x.ndim > 1 else [])))
    _on_arrays_and_on_tensors(lambda a: getattr(a, op)(dim, keepdim=keepdim), x)


@given(data=st.data(), op=st.sampled_from(["softmax", "log_softmax"]))
def test_softmax_rules_on_arrays_equal_rules_on_tensors(data, op):
    x = data.draw(arrays(data.draw(st.sampled_from([(4,), (3, 5), (2, 3, 4)]))))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    seed_grad = data.draw(arrays(x.shape))  # ones would give softmax's gradient 0
    _on_arrays_and_on_tensors(lambda a: getattr(a, op)(dim=dim), x, seed_grad=seed_grad)


@given(case=logits_and_targets(kind="index"), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_rule_on_arrays_equals_rule_on_tensors(case, reduction):
    logits, labels = case
    _on_arrays_and_on_tensors(lambda a: F.cross_entropy(a, labels, reduction=reduction), logits)


class _Square(Function):
    """out = x * x, a user's op whose rule runs on arrays"""

    rule_on_arrays = True
    seen: list = []

    def forward(self, x):
        return x * x

    def backward(self, grad):
        (x,) = self.operands(grad)
        _Square.seen.append((type(grad), type(x), type(self.result(grad))))
        return grad * 2 * x                          # a numpy scalar for 0-d arrays


@pytest.mark.parametrize("shape", [(), (3,)])
def test_a_users_op_with_rule_on_arrays_gets_arrays_and_under_create_graph_tensors(shape):
    _Square.seen.clear()
    x = Tensor(np.full(shape, 3.0), requires_grad=True)
    _Square.apply(x).sum().backward()
    assert _Square.seen == [(np.ndarray, np.ndarray, np.ndarray)]
    np.testing.assert_array_equal(x.grad.data, np.full(shape, 6.0))
    assert type(x.grad.data) is np.ndarray and x.grad.shape == shape
    (dx,) = grad(_Square.apply(x).sum(), x, create_graph=True)
    assert _Square.seen[1] == (Tensor, Tensor, Tensor)
    (ddx,) = grad(dx.sum(), x)                      # the rule was recorded: d(2x)/dx = 2
    np.testing.assert_array_equal(ddx.data, np.full(shape, 2.0))


def test_an_op_without_rule_on_arrays_still_gets_a_tensor():
    seen = []

    class Twice(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            seen.append(type(grad))
            return grad * 2

    x = Tensor([1.0, 2.0], requires_grad=True)
    Twice.apply(x).relu().sum().backward()           # between two rules on arrays
    assert seen == [Tensor]
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_apply_in_rule_runs_forward_on_arrays_and_records_on_tensors():
    x = np.array([1.0, -2.0, 3.0])
    on_arrays = ops.Softmax.apply_in_rule(x, dim=0)
    assert type(on_arrays) is np.ndarray
    t = Tensor(x, requires_grad=True)
    on_tensors = ops.Softmax.apply_in_rule(t, dim=0)
    assert isinstance(on_tensors, Tensor) and on_tensors.grad_fn is not None
    np.testing.assert_array_equal(on_arrays, on_tensors.data)


def test_a_large_spread_gradient_is_stored_as_a_writable_array_of_its_own():
    x = Tensor(np.ones((100, 100), np.float32), requires_grad=True)
    x.sum().backward()                               # Sum's rule: a read-only broadcast view
    assert x.grad.data.flags.writeable and x.grad.data.base is None
    x.grad.data[0, 0] = 5.0                          # its own memory
    np.testing.assert_array_equal(x.grad.data.sum(), 10004.0)
