"""Convolutional layers: document 004's layer-form gradients checked with scipy (not with the
project's im2col), PyTorch's defaults, max pooling's indices and unpooling, batch-norm
buffers, train() and eval()."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from tinygrad_edu import Tensor, manual_seed, nn
from tinygrad_edu.errors import ShapeError
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import assert_grads_close, check_grad
from tinygrad_edu.testing import strategies as tst

# ---- document 004, layer form: Y_i = B_i + sum_j X_j (star) K_ij -----------------------------


def layer_forward(x, k, b):
    """Y_i = B_i + sum_j X_j (star) K_ij for each sample, with scipy's valid correlation."""
    return np.array([[b[i] + sum(signal.correlate2d(xs[j], k[i, j], mode="valid")
                                 for j in range(k.shape[1])) for i in range(k.shape[0])]
                     for xs in x])


def layer_closed_forms(x, k, dy):
    """dE/dK_ij = X_j (star) dE/dY_i, dE/dB_i = dE/dY_i (summed over the positions of the
    per-channel bias), dE/dX_j = sum_i dE/dY_i (*full) K_ij; summed over the samples."""
    o, c = k.shape[:2]
    dk = np.array([[sum(signal.correlate2d(x[n, j], dy[n, i], mode="valid")
                        for n in range(len(x))) for j in range(c)] for i in range(o)])
    db = dy.sum(axis=(0, 2, 3))
    dx = np.array([[sum(signal.convolve2d(dy[n, i], k[i, j], mode="full") for i in range(o))
                    for j in range(c)] for n in range(len(x))])
    return dk, db, dx


@settings(max_examples=15)
@given(data=st.data())
def test_004_layer_form_closed_forms_match_backward(data):
    """E = 1/2 sum (Y - T)^2, so dE/dY = Y - T; every closed form against .backward()."""
    c, o = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    x = data.draw(tst.image_batches(channels=c, min_side=3, max_side=6))
    k = data.draw(tst.arrays((o, c, kh, kw)))
    b = data.draw(tst.arrays((o,)))
    y = layer_forward(x, k, b)
    t = data.draw(tst.arrays(y.shape))
    layer = nn.Conv2d(c, o, (kh, kw), dtype=np.float64)
    with_values = {"weight": k, "bias": b}
    layer.load_state_dict(with_values)
    xt = Tensor(x, requires_grad=True)
    out = layer(xt)
    np.testing.assert_allclose(out.data, y, rtol=1e-10, atol=1e-10)
    (0.5 * ((out - Tensor(t)) ** 2).sum()).backward()
    dk, db, dx = layer_closed_forms(x, k, y - t)
    assert_grads_close(layer.weight.grad, dk, atol=1e-9, name="dE/dK")
    assert_grads_close(layer.bias.grad, db, atol=1e-9, name="dE/dB")
    assert_grads_close(xt.grad, dx, atol=1e-9, name="dE/dX")


def test_004_layer_form_per_channel_bias_is_b_i_broadcast_over_positions():
    x, k = np.ones((1, 1, 3, 3)), np.ones((2, 1, 2, 2))
    y = F.conv2d(Tensor(x), Tensor(k), Tensor(np.array([10.0, -10.0])))
    np.testing.assert_array_equal(y.data[0, 0], 14.0)
    np.testing.assert_array_equal(y.data[0, 1], -6.0)


# ---- Conv2d: PyTorch's defaults -----------------------------------------------------------


def test_cnn_conv2d_layer_init_is_uniform_within_one_over_sqrt_fan_in():
    layer = nn.Conv2d(4, 16, (3, 5), groups=2, rng=0)
    fan_in = 2 * 3 * 5
    assert layer.weight.shape == (16, 2, 3, 5) and layer.bias.shape == (16,)
    assert layer.weight.dtype == np.float32
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound     # spread over the whole interval
    assert nn.Conv2d(1, 1, 3, bias=False).bias is None
    assert repr(nn.Conv2d(1, 6, 5, padding=2)) == \
        "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))"


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_cnn_conv2d_layer_padding_modes_pad_then_convolve(mode):
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode, rng=0, dtype=np.float64)
    x = rng.normal(size=(2, 2, 5, 6))
    expected = F.conv2d(F.pad(Tensor(x), (2, 2, 1, 1), mode=mode), layer.weight, layer.bias)
    np.testing.assert_allclose(layer(Tensor(x)).data, expected.data)
    same = nn.Conv2d(2, 3, (2, 3), padding="same", padding_mode=mode, dtype=np.float64)
    assert same(Tensor(x)).shape == (2, 3, 5, 6)


def test_cnn_conv2d_layer_grad_matches_numerical():
    layer = nn.Conv2d(2, 2, 2, stride=2, padding=1, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).normal(size=(2, 2, 4, 5))
    check_grad(lambda t, w, b: F.conv2d(t, w, b, stride=2, padding=1), x,
               layer.weight.data, layer.bias.data, order=2)


def test_cnn_conv2d_layer_names_a_wrong_channel_count_and_casts_pixels():
    layer = nn.Conv2d(3, 4, 3)
    with pytest.raises(ShapeError, match=r"Conv2d\(3, 4, .*\): the input has shape "
                                         r"\(2, 28, 28\), so 2 channels"):
        layer(Tensor(np.zeros((2, 28, 28), np.float32)))
    out = nn.Conv2d(1, 2, 3)(Tensor(np.zeros((1, 1, 5, 5), np.uint8)))
    assert out.dtype == np.float32
    with pytest.warns(UserWarning, match=r"a float64 input meets float32 parameters"):
        nn.Conv2d(1, 2, 3)(Tensor(np.zeros((1, 1, 5, 5))))
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(3\) and out_channels \(4\) "
                                         r"must both be divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")


# ---- batch norm, dropout, train() and eval() --------------------------------------------------


def test_cnn_batchnorm2d_buffers_are_saved_and_updated_only_in_training():
    bn = nn.BatchNorm2d(3)
    assert sorted(bn.state_dict()) == ["bias", "num_batches_tracked", "running_mean",
                                       "running_var", "weight"]
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(16, 3, 4, 4)).astype(np.float32)
    bn(Tensor(x))
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data,
                               0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1
    saved = bn.state_dict()
    bn.eval()
    out = bn(Tensor(x))
    assert bn.num_batches_tracked.item() == 1               # eval changes nothing
    expected = (x - saved["running_mean"][:, None, None]) / np.sqrt(
        saved["running_var"][:, None, None] + 1e-5)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    other = nn.BatchNorm2d(3)
    other.load_state_dict(saved)
    np.testing.assert_array_equal(other.running_var.data, saved["running_var"])


def test_cnn_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [np.random.default_rng(i).normal(i, 1, size=(8, 2)).astype(np.float32)
               for i in range(3)]
    for b in batches:
        bn(Tensor(b))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([b.mean(0) for b in batches], 0),
                               rtol=1e-5)


def test_cnn_batchnorm_without_running_stats_uses_batch_stats_in_eval():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False).eval()
    assert bn.state_dict() == {}
    out = bn(Tensor(np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)))
    np.testing.assert_allclose(out.data, [[-1, -1], [1, 1]], rtol=1e-4)


def test_cnn_batchnorm_names_the_wrong_shape():
    with pytest.raises(ShapeError, match=r"BatchNorm1d\(3, .*\): expected input of 2 or 3 dims "
                                         r"with 3 channels in dim 1, got \(2, 3, 4, 4\); use "
                                         r"BatchNorm2d"):
        nn.BatchNorm1d(3)(Tensor(np.ones((2, 3, 4, 4), np.float32)))


def test_cnn_train_and_eval_switch_dropout_and_batchnorm_inside_sequential():
    manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                          nn.Dropout(0.5), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x = Tensor(np.random.default_rng(0).normal(size=(4, 1, 4, 4)).astype(np.float32))
    assert model(x).data.tolist() != model(x).data.tolist()       # dropout: a new mask
    model.eval()
    assert not any(m.training for m in model.modules())
    np.testing.assert_array_equal(model(x).data, model(x).data)   # deterministic
    model.train()
    assert all(m.training for m in model.modules())


def test_cnn_activation_layers_match_functional():
    x = Tensor(np.linspace(-3, 3, 7))
    pairs = [(nn.LeakyReLU(0.2), F.leaky_relu(x, 0.2)), (nn.ELU(0.5), F.elu(x, 0.5)),
             (nn.GELU(), F.gelu(x)), (nn.GELU("tanh"), F.gelu(x, "tanh")),
             (nn.SiLU(), F.silu(x)), (nn.Softplus(2.0), F.softplus(x, 2.0))]
    for layer, expected in pairs:
        np.testing.assert_array_equal(layer(x).data, expected.data)
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    with pytest.raises(ValueError, match=r"GELU: approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match=r"Dropout: p must be a probability"):
        nn.Dropout(2)


# ---- MaxPool2d(return_indices=True) and MaxUnpool2d ---------------------------------------------


def test_cnn_maxunpool2d_layer_inverts_maxpool2d_as_in_pytorchs_example():
    """torch.nn.MaxUnpool2d's documented example; its second part needs output_size."""
    pool = nn.MaxPool2d(2, stride=2, return_indices=True)
    unpool = nn.MaxUnpool2d(2, stride=2)
    x = Tensor(np.arange(1.0, 17.0).reshape(1, 1, 4, 4))
    out, indices = pool(x)
    np.testing.assert_array_equal(unpool(out, indices).data[0, 0],
                                  [[0, 0, 0, 0], [0, 6, 0, 8], [0, 0, 0, 0], [0, 14, 0, 16]])
    x = Tensor(np.arange(1.0, 21.0).reshape(1, 1, 4, 5))
    out, indices = pool(x)
    with pytest.raises(ValueError, match=r"max_unpool2d: indices must lie in \[0, 15\]"):
        unpool(out, indices)                  # 4 x 5 pooled, then 4 x 4 by default
    np.testing.assert_array_equal(unpool(out, indices, output_size=x.shape).data[0, 0],
                                  [[0, 0, 0, 0, 0], [0, 7, 0, 9, 0], [0, 0, 0, 0, 0],
                                   [0, 17, 0, 19, 0]])
    assert repr(unpool) == "MaxUnpool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(pool) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, " \
                         "ceil_mode=False)"


@settings(max_examples=10)
@given(tst.pool_cases("max", max_side=5))
def test_cnn_maxpool2d_and_maxunpool2d_layers_match_functional_and_grad(case):
    options = {k: case[k] for k in ("kernel_size", "stride", "padding")}
    pool = nn.MaxPool2d(**options, return_indices=True, ceil_mode=case["ceil_mode"])
    unpool = nn.MaxUnpool2d(**options)
    x = Tensor(case["x"])
    out, indices = pool(x)
    expected, expected_indices = F.max_pool2d(x, **options, ceil_mode=case["ceil_mode"],
                                              return_indices=True)
    np.testing.assert_array_equal(out.data, expected.data)
    np.testing.assert_array_equal(indices.data, expected_indices.data)
    np.testing.assert_array_equal(
        unpool(out, indices, x.shape).data,
        F.max_unpool2d(out, indices, **options, output_size=x.shape).data)
    check_grad(lambda t: unpool(*pool(t), output_size=t.shape) ** 2, case["x"], order=2)


def test_cnn_lenet_trains_one_step_and_checkpoints_its_buffers(tmp_path):
    manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 5 * 5, 10))
    x = Tensor(np.random.default_rng(0).normal(size=(8, 1, 28, 28)).astype(np.float32))
    labels = np.arange(8) % 10
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    nn.save(model, tmp_path / "lenet.npz")
    loaded = nn.load(tmp_path / "lenet.npz")
    assert int(loaded["1.num_batches_tracked"]) == 1
    np.testing.assert_array_equal(loaded["1.running_mean"], model[1].running_mean.data)
    model.load_state_dict(loaded)


def test_cnn_batchnorm_error_changes_no_buffer():
    bn = nn.BatchNorm1d(3)
    before = bn.state_dict()
    with pytest.raises(ValueError, match=r"batch_norm: training needs more than one value"):
        bn(Tensor(np.ones((1, 3), np.float32)))
    after = bn.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
