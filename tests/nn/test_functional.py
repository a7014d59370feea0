"""Losses and activations: values against plain numpy references, gradients, identities."""

import tracemalloc
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, grad
from tinygrad_edu.errors import DtypeError, ShapeError
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import assert_grads_close, check_grad
from tinygrad_edu.testing import strategies as tst

REDUCTIONS = ["mean", "sum", "none"]
KINDS = ["index", "onehot", "soft"]


def _np_log_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _np_reduce(losses, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](losses)


def np_cross_entropy(logits, target, reduction="mean"):
    """PyTorch's definition, in numpy: classes along dim 1 (dim 0 for one sample)."""
    class_dim = 1 if logits.ndim > 1 else 0
    log_probs = _np_log_softmax(logits, class_dim)
    if target.dtype.kind in "iu":
        picked = np.take_along_axis(log_probs, np.expand_dims(target, class_dim), class_dim)
        losses = -picked.squeeze(class_dim)
    else:
        losses = -(target * log_probs).sum(axis=class_dim)
    return _np_reduce(losses, reduction)


def np_nll_loss(log_probs, target, reduction="mean"):
    class_dim = 1 if log_probs.ndim > 1 else 0
    picked = np.take_along_axis(log_probs, np.expand_dims(target, class_dim), class_dim)
    return _np_reduce(-picked.squeeze(class_dim), reduction)


# ---- cross_entropy --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_cross_entropy_matches_numpy_for_each_reduction(kind, data):
    logits, target = data.draw(tst.logits_and_targets(kind=kind))
    for reduction in REDUCTIONS:
        out = F.cross_entropy(Tensor(logits), target, reduction=reduction)
        expected = np_cross_entropy(logits, target, reduction)
        assert out.shape == np.shape(expected)
        np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["index", "soft"])
@given(data=st.data())
def test_cross_entropy_grad_and_second_derivative_match_numerical(kind, reduction, data):
    logits, target = data.draw(tst.logits_and_targets(kind=kind, max_batch=3, max_classes=4))
    check_grad(lambda x: F.cross_entropy(x, target, reduction=reduction), logits, order=2)


@given(tst.logits_and_targets(kind="index"))
def test_cross_entropy_grad_is_softmax_minus_one_hot_over_n(pair):
    logits, labels = pair
    x = Tensor(logits, requires_grad=True)
    F.cross_entropy(x, labels).backward()
    n, c = logits.shape
    probs = np.exp(_np_log_softmax(logits, 1))
    assert_grads_close(x.grad, (probs - np.eye(c)[labels]) / n, atol=1e-12)


@given(tst.logits_and_targets(kind="index"))
def test_cross_entropy_with_one_hot_probabilities_equals_class_indices(pair):
    logits, labels = pair
    onehot = np.eye(logits.shape[1])[labels]
    by_index = Tensor(logits, requires_grad=True)
    by_probs = Tensor(logits, requires_grad=True)
    F.cross_entropy(by_index, labels).backward()
    F.cross_entropy(by_probs, onehot).backward()
    np.testing.assert_allclose(by_index.grad.data, by_probs.grad.data, atol=1e-14)


@given(pair=tst.logits_and_targets(kind="index"))
def test_cross_entropy_equals_nll_loss_of_log_softmax(pair):
    logits, labels = pair
    for reduction in REDUCTIONS:
        fused = Tensor(logits, requires_grad=True)
        composed = Tensor(logits, requires_grad=True)
        a = F.cross_entropy(fused, labels, reduction=reduction)
        b = F.nll_loss(F.log_softmax(composed, dim=1), labels, reduction=reduction)
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-12)
        a.sum().backward()
        b.sum().backward()
        assert_grads_close(fused.grad, composed.grad, atol=1e-12)


@given(tst.arrays((2, 3, 4)), st.sampled_from(REDUCTIONS))
def test_cross_entropy_with_extra_dims_matches_numpy(logits, reduction):
    labels = np.array([[0, 2, 1, 1], [2, 2, 0, 1]])
    out = F.cross_entropy(Tensor(logits), labels, reduction=reduction)
    np.testing.assert_allclose(out.data, np_cross_entropy(logits, labels, reduction),
                               rtol=1e-10)
    check_grad(lambda x: F.cross_entropy(x, labels, reduction=reduction), logits)


def test_cross_entropy_of_one_sample_with_1d_logits():
    logits = np.array([2.0, -1.0, 0.5])
    out = F.cross_entropy(Tensor(logits), 2)
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), np_cross_entropy(logits, np.array(2)), rtol=1e-12)
    check_grad(lambda x: F.cross_entropy(x, 2), logits, order=2)


def test_cross_entropy_of_uniform_logits_is_log_of_class_count():
    out = F.cross_entropy(Tensor(np.zeros((3, 5))), [0, 4, 2])
    np.testing.assert_allclose(out.item(), np.log(5), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    logits = Tensor(np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]], dtype=dtype),
                    requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow anywhere
        loss = F.cross_entropy(logits, [0, 1], reduction="none")
        loss.sum().backward()
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss.data, [0.0, np.log(2)], atol=1e-6)
    np.testing.assert_allclose(logits.grad.data, [[0, 0, 0], [0, -0.5, 0.5]], atol=1e-6)


def test_cross_entropy_mean_of_an_empty_batch_is_nan():
    out = F.cross_entropy(Tensor(np.zeros((0, 3))), np.zeros(0, dtype=np.int64))
    assert out.shape == () and np.isnan(out.item())


# ---- nll_loss and mse_loss ------------------------------------------------------------------


@given(pair=tst.logits_and_targets(kind="index"))
def test_nll_loss_matches_numpy_for_each_reduction(pair):
    logits, labels = pair
    log_probs = _np_log_softmax(logits, 1)
    for reduction in REDUCTIONS:
        out = F.nll_loss(Tensor(log_probs), labels, reduction=reduction)
        np.testing.assert_allclose(out.data, np_nll_loss(log_probs, labels, reduction),
                                   rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(pair=tst.logits_and_targets(kind="index", max_batch=4, max_classes=4))
def test_nll_loss_grad_matches_numerical(reduction, pair):
    logits, labels = pair
    check_grad(lambda x: F.nll_loss(x, labels, reduction=reduction), logits)


@given(data=st.data())
def test_mse_loss_matches_numpy_for_each_reduction(data):
    x = data.draw(tst.arrays())
    y = data.draw(tst.arrays(x.shape))
    for reduction in REDUCTIONS:
        out = F.mse_loss(Tensor(x), y, reduction=reduction)
        np.testing.assert_allclose(out.data, _np_reduce((x - y) ** 2, reduction), rtol=1e-12)


def test_mse_loss_takes_a_list_target_as_float32_like_tensor_does():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    loss = F.mse_loss(x, [[0, 0, 0], [1, 1, 1]])
    assert loss.dtype == np.float32 and loss.item() == 0.5
    loss.backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_mse_loss_grad_and_second_derivative_match_numerical(reduction, data):
    x = data.draw(tst.arrays(max_dims=2, max_side=4))
    y = data.draw(tst.arrays(x.shape))
    check_grad(lambda a, b: F.mse_loss(a, b, reduction=reduction), x, y, order=2)


# ---- one_hot and the activations ------------------------------------------------------------


@given(labels=tst.logits_and_targets(kind="index").map(lambda pair: pair[1]),
       extra=st.integers(0, 3))
def test_one_hot_rows_match_numpy_eye(labels, extra):
    n = int(labels.max()) + 1 + extra
    out = F.one_hot(labels, num_classes=n)
    np.testing.assert_array_equal(out.data, np.eye(n)[labels])
    assert out.dtype == np.float32 and not out.requires_grad


def test_one_hot_infers_the_class_count_and_takes_a_dtype():
    out = F.one_hot(Tensor(np.array([[0, 2], [1, 1]])), dtype=np.float64)
    assert out.shape == (2, 2, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out.data.argmax(-1), [[0, 2], [1, 1]])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(x=tst.arrays(min_dims=1))
def test_functional_softmax_equals_the_method(name, x):
    t = Tensor(x)
    np.testing.assert_array_equal(getattr(F, name)(t, dim=0).data, getattr(t, name)(0).data)
    np.testing.assert_array_equal(getattr(F, name)(t).data, getattr(t, name)(-1).data)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
@given(x=tst.arrays())
def test_functional_activation_equals_the_method(name, x):
    t = Tensor(x)
    np.testing.assert_array_equal(getattr(F, name)(t).data, getattr(t, name)().data)


# ---- issue 15: no silent wrong answers ------------------------------------------------------


def _peak_bytes(fn):
    """The peak of memory numpy and Python allocate while fn runs (numpy reports to tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_trust_10_nll_loss_memory_grows_with_the_batch_not_the_square_of_the_classes():
    # 5,000 classes: a C x C table would be 200 MB; the loss and its gradient need ~80 kB each
    x = Tensor(np.random.default_rng(0).normal(size=(2, 5000)), requires_grad=True)

    def step():
        F.nll_loss(x, [3, 4999]).backward()

    assert _peak_bytes(step) < 20 * x.data.nbytes
    expected = np.zeros((2, 5000))
    expected[[0, 1], [3, 4999]] = -0.5
    np.testing.assert_array_equal(x.grad.data, expected)


def test_trust_10_one_hot_memory_is_its_output():
    out = []
    peak = _peak_bytes(lambda: out.append(F.one_hot([0, 4999, 7], num_classes=5000)))
    assert peak < 3 * out[0].data.nbytes
    np.testing.assert_array_equal(out[0].data.argmax(1), [0, 4999, 7])
    assert out[0].data.sum() == 3


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(pair=tst.logits_and_targets(kind="index", max_batch=3, max_classes=4))
def test_trust_10_nll_loss_second_derivative_through_log_softmax_matches_numerical(reduction,
                                                                                pair):
    logits, labels = pair
    check_grad(lambda x: F.nll_loss(x.log_softmax(1) * x, labels, reduction=reduction), logits,
               order=2)


def test_trust_10_nll_loss_of_an_empty_batch_is_nan_and_its_gradient_empty():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    loss = F.nll_loss(x, np.zeros(0, dtype=np.int64))
    assert loss.shape == () and np.isnan(loss.item())
    loss.backward()  # no division by zero: the gradient of no samples is empty
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((2, 0), 1), ((0,), 0), ((3, 0, 2), 1)])
def test_trust_15_softmax_over_an_empty_dim_is_empty(name, shape, dim):
    x = Tensor(np.zeros(shape), requires_grad=True)
    out = getattr(F, name)(x, dim=dim)
    assert out.shape == shape and out.dtype == np.float64
    out.sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize("reduction, expected", [("none", np.zeros(0)), ("sum", 0.0),
                                                 ("mean", np.nan)])
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_trust_15_class_index_loss_of_no_samples_and_no_classes(loss, reduction, expected):
    x = Tensor(np.zeros((0, 0)), requires_grad=True)
    out = getattr(F, loss)(x, np.zeros(0, dtype=np.int64), reduction=reduction)
    np.testing.assert_array_equal(out.data, expected)  # a mean of no samples is NaN, as PyTorch
    out.sum().backward()
    assert x.grad.shape == (0, 0)


@pytest.mark.parametrize("reduction, expected", [("none", [0.0, 0.0]), ("sum", 0.0),
                                                 ("mean", 0.0)])
def test_trust_15_cross_entropy_over_no_classes_is_an_empty_sum(reduction, expected):
    # each sample's loss is -sum over no classes = 0; the mean is the mean of those zeros
    x = Tensor(np.zeros((2, 0)), requires_grad=True)
    out = F.cross_entropy(x, np.zeros((2, 0)), reduction=reduction)
    np.testing.assert_array_equal(out.data, expected)
    out.sum().backward()
    assert x.grad.shape == (2, 0)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_trust_15_class_labels_over_no_classes_are_an_error(loss):
    with pytest.raises(ValueError, match=rf"{loss}: scores of shape \(2, 0\) have no classes "
                                         r"along dim 1, so no class index is valid"):
        getattr(F, loss)(Tensor(np.zeros((2, 0))), [0, 0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int64, np.bool_])
def test_trust_15_softmax_of_integer_scores_is_computed_in_floats(dtype):
    # x - max(x) on uint8 wraps around (0 - 5 = 251): the scores must not be shifted as integers
    values = np.array([[0, 1, 1], [1, 0, 0]]) if dtype == np.bool_ else np.array([[0, 5, 100],
                                                                                  [-3, 0, 7]])
    x = values.astype(dtype)
    floats = x.astype(np.float64)
    for name in ("softmax", "log_softmax"):
        out = getattr(F, name)(Tensor(x), dim=1)
        assert out.dtype.kind == "f"
        np.testing.assert_allclose(out.data, getattr(F, name)(Tensor(floats), dim=1).data,
                                   rtol=1e-3, atol=1e-3)
    labels = [1, 2]
    np.testing.assert_allclose(F.cross_entropy(Tensor(x), labels, reduction="none").data,
                               np_cross_entropy(floats, np.array(labels), "none"), rtol=1e-3)
    np.testing.assert_allclose(F.nll_loss(Tensor(x), labels, reduction="none").data,
                               -floats[[0, 1], labels], rtol=1e-3)


def test_trust_15_nll_loss_of_int8_log_probs_does_not_wrap():
    out = F.nll_loss(Tensor(np.array([[-128, 0]], np.int8)), [0])
    assert out.item() == 128


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int64, np.bool_])
def test_trust_15_mse_loss_of_integer_tensors_is_an_error(dtype):
    # uint8 0 - 1 wraps to 255: a squared error of 65025 instead of 1
    x, y = np.array([0, 1]).astype(dtype), np.array([1, 0]).astype(dtype)
    with pytest.raises(DtypeError, match=rf"mse_loss: input \({np.dtype(dtype)}\) and target "
                                         rf"\({np.dtype(dtype)}\) are not floats.*\.float\(\)"):
        F.mse_loss(Tensor(x), y)


def test_trust_15_mse_loss_of_an_integer_target_and_float_input_is_right():
    out = F.mse_loss(Tensor(np.array([0.0, 0.0], np.float32)), np.array([1, 3], np.uint8))
    assert out.item() == 5.0


def test_trust_15_mse_loss_of_complex_tensors_is_an_error():
    with pytest.raises(DtypeError, match=r"mse_loss: .*complex128"):
        F.mse_loss(Tensor(np.zeros(2)), np.array([1j, 0]))


@pytest.mark.parametrize("call", [
    lambda: F.cross_entropy([[0.0, 1.0]], [1]),
    lambda: F.nll_loss(np.zeros((1, 2)), [1]),
    lambda: F.mse_loss([1.0, 2.0], [0.0, 0.0]),
    lambda: F.softmax([1.0, 2.0]),
    lambda: F.log_softmax(np.zeros(2)),
], ids=["cross_entropy", "nll_loss", "mse_loss", "softmax", "log_softmax"])
def test_trust_15_a_loss_names_an_input_that_is_not_a_tensor(call):
    with pytest.raises(TypeError, match=r"^\w+: .* must be a Tensor, got (list|ndarray); "
                                        r"wrap it: Tensor\("):
        call()


def test_trust_15_integer_one_hot_rows_as_a_target_name_both_fixes():
    onehot = np.eye(3, dtype=np.int64)[[0, 2]]
    with pytest.raises(ShapeError, match=r"integer targets of the scores' shape .* "
                                         r"\(target\.argmax\(1\)\) .*\.astype\(np\.float32\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), onehot)


@pytest.mark.parametrize("num_classes", [None, -1])
def test_trust_15_one_hot_infers_the_class_count_from_none_or_minus_one(num_classes):
    out = F.one_hot([0, 3], num_classes=num_classes)
    np.testing.assert_array_equal(out.data, np.eye(4)[[0, 3]])


@pytest.mark.parametrize("num_classes", [3.0, "3", True, -2])
def test_trust_15_one_hot_rejects_a_class_count_that_is_not_a_count(num_classes):
    with pytest.raises((TypeError, ValueError),
                       match=r"one_hot: num_classes must be an int >= 0 \(or -1 or None"):
        F.one_hot([0, 1], num_classes=num_classes)


@pytest.mark.parametrize("labels, num_classes, match", [
    ([0, 3], 2, r"one_hot: labels must lie in \[0, 1\], got values in \[0, 3\]"),
    ([0, -1], 3, r"one_hot: labels must be >= 0, got -1"),
    ([-1], None, r"one_hot: labels must be >= 0, got -1"),
    ([0], 0, r"one_hot: num_classes=0 leaves no valid label"),
])
def test_trust_15_one_hot_names_a_label_that_does_not_fit(labels, num_classes, match):
    with pytest.raises(ValueError, match=match):
        F.one_hot(labels, num_classes=num_classes)


# ---- issue 18: activations, binary and weighted losses, dropout, batch_norm -----------------

def _np_gelu(a):
    import math
    return 0.5 * a * (1 + np.vectorize(math.erf, otypes=[float])(a / np.sqrt(2)))


ACTIVATIONS = {
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
    "elu": (lambda t: F.elu(t, 1.5),
            lambda a: np.where(a > 0, a, 1.5 * np.expm1(np.minimum(a, 0)))),
    "gelu": (F.gelu, _np_gelu),
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"),
                  lambda a: 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a**3)))),
    "silu": (F.silu, lambda a: a / (1 + np.exp(-a))),
    "softplus": (lambda t: F.softplus(t, beta=2.0), lambda a: np.logaddexp(0, 2 * a) / 2),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@given(x=tst.arrays(min_magnitude=1e-3, min_value=-6.0, max_value=6.0))
def test_cnn_activation_matches_numpy_and_grad_matches_numerical(name, x):
    fn, reference = ACTIVATIONS[name]
    np.testing.assert_allclose(fn(Tensor(x)).data, reference(x), rtol=1e-12, atol=1e-12)
    check_grad(fn, x, order=2)


def test_cnn_elu_and_silu_do_not_overflow_on_large_inputs():
    x = Tensor(np.array([-1e4, 1e4], np.float32))
    np.testing.assert_array_equal(F.elu(x).data, [-1.0, 1e4])
    np.testing.assert_array_equal(F.silu(x).data, [-0.0, 1e4])


def test_cnn_leaky_relu_gradient_at_zero_is_the_slope():
    x = Tensor(np.zeros(1), requires_grad=True)
    F.leaky_relu(x, 0.1).sum().backward()
    assert x.grad.data[0] == 0.1


def test_cnn_gelu_and_softplus_refuse_bad_options():
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(Tensor([1.0]), approximate="fast")
    with pytest.raises(ValueError, match=r"softplus: beta must be > 0"):
        F.softplus(Tensor([1.0]), beta=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_cnn_binary_cross_entropy_matches_formula_and_grad(reduction, data):
    p = data.draw(tst.arrays(min_value=0.05, max_value=0.95))
    y = data.draw(tst.arrays(shape=p.shape, min_value=0.0, max_value=1.0))
    w = data.draw(tst.arrays(shape=p.shape, min_value=0.1, max_value=2.0))
    expected = _np_reduce(-w * (y * np.log(p) + (1 - y) * np.log(1 - p)), reduction)
    out = F.binary_cross_entropy(Tensor(p), y, weight=w, reduction=reduction)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    check_grad(lambda t: F.binary_cross_entropy(t, y, w, reduction), p, order=2)


def test_cnn_binary_cross_entropy_clamps_logs_at_minus_100_and_refuses_non_probabilities():
    out = F.binary_cross_entropy(Tensor([0.0, 1.0]), [1.0, 0.0], reduction="none")
    np.testing.assert_array_equal(out.data, [100.0, 100.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities"):
        F.binary_cross_entropy(Tensor([1.5]), [1.0])
    with pytest.raises(ShapeError, match=r"target of shape \(2,\) must have the input's shape"):
        F.binary_cross_entropy(Tensor([[0.5], [0.5]]), [1.0, 0.0])


def test_binary_cross_entropy_grad_is_the_derivative_of_the_clamped_loss():
    # the documented difference from PyTorch (which caps 1 / (p (1 - p)) at 1e12): a clamped
    # log adds 0, an unclamped one its exact slope, -y / p = -1e20 at p = 1e-20
    p = Tensor(np.array([0.0, 1.0, 1e-20, 0.5]), requires_grad=True)
    y = Tensor(np.array([1.0, 0.0, 1.0, 0.25]), requires_grad=True)
    F.binary_cross_entropy(p, y, reduction="sum").backward()
    np.testing.assert_allclose(p.grad.data, [0.0, 0.0, -1e20, 1.0], rtol=1e-12)
    # d/dy = log(1 - p) - log(p), each log clamped at -100 as in the loss
    np.testing.assert_allclose(y.grad.data, [100.0, -100.0, -np.log(1e-20), 0.0], rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_cnn_bce_with_logits_is_bce_of_sigmoid_and_grad_matches_numerical(reduction, data):
    x = data.draw(tst.arrays(min_value=-8.0, max_value=8.0))
    y = data.draw(tst.arrays(shape=x.shape, min_value=0.0, max_value=1.0))
    pw = data.draw(tst.arrays(shape=x.shape[-1:], min_value=0.5, max_value=3.0))
    p = 1 / (1 + np.exp(-x))
    expected = _np_reduce(-(pw * y * np.log(p) + (1 - y) * np.log(1 - p)), reduction)
    out = F.binary_cross_entropy_with_logits(Tensor(x), y, reduction=reduction, pos_weight=pw)
    np.testing.assert_allclose(out.data, expected, rtol=1e-9, atol=1e-12)
    check_grad(lambda t: F.binary_cross_entropy_with_logits(t, y, None, reduction, pw), x,
               order=2)


def test_cnn_bce_with_logits_is_stable_for_huge_scores():
    x = Tensor(np.array([-1000.0, 1000.0], np.float32), requires_grad=True)
    out = F.binary_cross_entropy_with_logits(x, [1.0, 0.0], reduction="sum")
    assert out.item() == 2000.0
    out.backward()
    np.testing.assert_array_equal(x.grad.data, [-1.0, 1.0])   # sigmoid(x) - y


def np_weighted_ce(logits, target, weight=None, ignore_index=-100, smoothing=0.0,
                   reduction="mean"):
    """PyTorch's cross_entropy with class weights, ignore_index and label smoothing."""
    log_probs = _np_log_softmax(logits, 1)
    c = logits.shape[1]
    w = np.ones(c) if weight is None else weight
    keep = target != ignore_index
    safe = np.where(keep, target, 0)
    wy = np.where(keep, w[safe], 0.0)
    nll = -wy * np.take_along_axis(log_probs, safe[:, None], 1)[:, 0]
    smooth = -np.where(keep, (log_probs * w).sum(1), 0.0)
    losses = (1 - smoothing) * nll + smoothing / c * smooth
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / wy.sum()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_cnn_cross_entropy_weight_ignore_index_and_label_smoothing_match_pytorch(reduction,
                                                                                 data):
    n, c = data.draw(st.integers(1, 6)), data.draw(st.integers(2, 5))
    logits = data.draw(tst.arrays(shape=(n, c)))
    target = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    ignored = data.draw(hnp.arrays(bool, n))
    if ignored.all():
        ignored[0] = False
    target = np.where(ignored, -100, target)
    weight = data.draw(st.none() | tst.arrays(shape=(c,), min_value=0.1, max_value=3.0))
    smoothing = data.draw(st.sampled_from([0.0, 0.1, 0.5]))
    out = F.cross_entropy(Tensor(logits), target, weight=weight, reduction=reduction,
                          label_smoothing=smoothing)
    expected = np_weighted_ce(logits, target, weight, -100, smoothing, reduction)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    check_grad(lambda t: F.cross_entropy(t, target, weight, reduction=reduction,
                                         label_smoothing=smoothing), logits, order=2)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_cross_entropy_and_nll_ignore_a_non_negative_ignore_index(reduction, data):
    # regression: with no weight and no smoothing, a label equal to a non-negative
    # ignore_index (a class, or C used as padding) was counted as an ordinary label
    n, c = data.draw(st.integers(2, 6)), data.draw(st.integers(2, 5))
    logits = data.draw(tst.arrays(shape=(n, c)))
    ignore_index = data.draw(st.integers(0, c))
    target = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    target[1] = (ignore_index + 1) % c         # one sample that counts (none: the mean is NaN)
    ignored = data.draw(hnp.arrays(bool, n))
    ignored[0], ignored[1] = True, False       # and one that carries ignore_index
    target = np.where(ignored, ignore_index, target)
    expected = np_weighted_ce(logits, target, None, ignore_index, 0.0, reduction)
    for loss, scores in ((F.cross_entropy, logits), (F.nll_loss, _np_log_softmax(logits, 1))):
        out = loss(Tensor(scores), target, ignore_index=ignore_index, reduction=reduction)
        np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
        check_grad(lambda t, loss=loss: loss(t, target, ignore_index=ignore_index,
                                             reduction=reduction), scores, order=2)


def test_cross_entropy_ignore_index_of_a_class_drops_those_samples():
    # regression: labels [1, 0] with ignore_index=1 is the loss of the second sample alone
    logits = np.array([[1.0, 2.0], [3.0, -1.0]])
    x = Tensor(logits, requires_grad=True)
    F.cross_entropy(x, np.array([1, 0]), ignore_index=1).backward()
    p = np.exp(logits[1]) / np.exp(logits[1]).sum()
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.0], p - [1.0, 0.0]], rtol=1e-12)


def test_cnn_nll_loss_weighted_mean_is_sum_of_wl_over_sum_of_w():
    log_probs = np.log(np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]))
    target, weight = np.array([0, 1, 1]), np.array([1.0, 3.0])
    out = F.nll_loss(Tensor(log_probs), target, weight=weight)
    losses = -np.array([1.0 * log_probs[0, 0], 3.0 * log_probs[1, 1], 3.0 * log_probs[2, 1]])
    np.testing.assert_allclose(out.item(), losses.sum() / 7.0)
    ignored = F.nll_loss(Tensor(log_probs), np.array([0, 5, 1]), weight=weight, ignore_index=5)
    np.testing.assert_allclose(ignored.item(), (losses[0] + losses[2]) / 4.0)


def test_cnn_cross_entropy_ignores_label_minus_100_by_default_and_all_ignored_is_nan():
    logits = np.array([[1.0, 2.0], [3.0, -1.0]])
    out = F.cross_entropy(Tensor(logits), np.array([1, -100]))
    np.testing.assert_allclose(out.item(), np_cross_entropy(logits[:1], np.array([1])))
    assert np.isnan(F.cross_entropy(Tensor(logits), np.array([-100, -100])).item())
    with pytest.raises(ValueError, match=r"cross_entropy"):
        F.cross_entropy(Tensor(logits), np.array([1, -3]))


@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.2}, {"weight": [1.0, 2.0]},
                                     {"ignore_index": 1}])
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_the_mean_over_all_ignored_samples_is_nan_with_gradient_zero(loss, options):
    # regression: 0/0 = NaN was reached through a multiplication by NaN, so every element's
    # gradient was NaN too; no sample counts, so the gradient is 0 (PyTorch's value)
    if loss == "nll_loss" and "label_smoothing" in options:
        return
    label = options.get("ignore_index", -100)
    for shape, target in (((2, 2), np.array([label, label])), ((2,), np.array(label))):
        x = Tensor(np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape),
                   requires_grad=True)
        out = getattr(F, loss)(x, target, **options)
        assert np.isnan(out.item())
        (g,) = grad(out, x, create_graph=True)
        np.testing.assert_array_equal(g.data, np.zeros(shape))
        if g.requires_grad:                   # the second derivative is 0 too
            (gg,) = grad(g.sum(), x, allow_unused=True)
            assert gg is None or not gg.data.any()


def test_cnn_cross_entropy_refuses_reduction_passed_as_weight_and_bad_smoothing():
    logits = Tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"weight must hold one weight per class, got the "
                                        r"string 'sum'; pass reduction='sum' by name"):
        F.cross_entropy(logits, [0, 1], "sum")
    with pytest.raises(ShapeError, match=r"weight must have one entry per class, shape \(3,\)"):
        F.cross_entropy(logits, [0, 1], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\]"):
        F.cross_entropy(logits, [0, 1], label_smoothing=1.5)


def test_cnn_cross_entropy_probability_targets_with_weight_and_smoothing():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 3))
    y = rng.dirichlet(np.ones(3), size=4)
    w = np.array([0.5, 1.0, 2.0])
    out = F.cross_entropy(Tensor(logits), y, weight=w, label_smoothing=0.2)
    smoothed = y * 0.8 + 0.2 / 3
    expected = -(smoothed * w * _np_log_softmax(logits, 1)).sum(1).mean()   # mean over N
    np.testing.assert_allclose(out.item(), expected)


def test_cnn_dropout_zeroes_scales_and_is_the_identity_in_eval():
    from tinygrad_edu import manual_seed
    manual_seed(0)
    x = Tensor(np.ones(10_000), requires_grad=True)
    out = F.dropout(x, 0.25)
    kept = out.data != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(out.data[kept], 1 / 0.75)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, out.data)        # the same mask and scale
    assert F.dropout(x, 0.25, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0)
    with pytest.raises(ValueError, match=r"dropout: p must be a probability in \[0, 1\]"):
        F.dropout(x, 1.5)


@given(x=tst.arrays(shape=st.tuples(st.integers(2, 4), st.integers(1, 3), st.integers(1, 3))))
def test_cnn_batch_norm_training_grad_matches_numerical(x):
    if np.ptp(np.moveaxis(x, 1, 0).reshape(x.shape[1], -1), axis=1).min() < 1e-2:
        x = x + np.arange(x.size).reshape(x.shape)   # each channel needs some spread
    c = x.shape[1]
    w, b = np.linspace(0.5, 1.5, c), np.linspace(-1, 1, c)
    check_grad(lambda t, w_, b_: F.batch_norm(t, None, None, w_, b_, training=True) ** 2,
               x, w, b, order=2)


def test_cnn_batch_norm_uses_batch_stats_in_training_and_running_stats_in_eval():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(8, 2, 4, 4))
    mean, var = Tensor(np.zeros(2)), Tensor(np.ones(2))
    out = F.batch_norm(Tensor(x), mean, var, training=True, momentum=0.1)
    np.testing.assert_allclose(out.data.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.data.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    np.testing.assert_allclose(mean.data, 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(var.data, 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1))
    evaluated = F.batch_norm(Tensor(x), mean, var, training=False, eps=0.0)
    expected = (x - mean.data[:, None, None]) / np.sqrt(var.data[:, None, None])
    np.testing.assert_allclose(evaluated.data, expected)


def test_cnn_batch_norm_errors():
    with pytest.raises(ValueError, match=r"batch_norm: training needs more than one value per "
                                         r"channel"):
        F.batch_norm(Tensor(np.ones((1, 3))), None, None, training=True)
    with pytest.raises(ShapeError, match=r"batch_norm: running_mean must be a Tensor of shape "
                                         r"\(3,\)"):
        F.batch_norm(Tensor(np.ones((2, 3))), Tensor(np.zeros(2)), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"batch_norm: evaluation \(training=False\) needs "):
        F.batch_norm(Tensor(np.ones((2, 3))), None, None)


def test_cnn_binary_losses_refuse_a_weight_that_requires_grad():
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight requires grad"):
        F.binary_cross_entropy(Tensor([0.5, 0.5]), [1.0, 0.0], weight=w)
    with pytest.raises(ValueError, match=r"with_logits: pos_weight requires grad"):
        F.binary_cross_entropy_with_logits(Tensor([0.5, 0.5]), [1.0, 0.0], pos_weight=w)
