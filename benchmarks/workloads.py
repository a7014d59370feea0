"""The benchmark workloads, each written once per framework in that framework's own idiom.

A workload maps each framework name to a *factory*: calling it builds the parameters and
data (not timed) and returns a `step()` callable (timed). Every framework starts from
copies of the same numbers (`numpy_baselines.init_params`) and sees the same data.

Frameworks: "numpy" (hand-written backprop, the baseline of every ratio), "tinygrad_edu",
and "torch" (PyTorch eager on the CPU, when installed). The MLP workloads also time the ways
users write a tinygrad_edu step ("tinygrad_edu[linear]": nn.Linear layers; "[inplace]":
`p -= lr * p.grad` under no_grad; "[inplace-alpha]": `p.sub_(p.grad, alpha=lr)`;
"[composed]": the loss written from log_softmax), each with its own target (or none: reported
only), a second numpy baseline in the other layout ("numpy-columns") and, beside
"[inplace]", numpy with the update written as the same expression ("numpy[inplace]").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import numpy_baselines as nb

Factory = Callable[[], Callable[[], object]]

MNIST_FEATURES, MNIST_CLASSES = 784, 10


@dataclass
class Workload:
    """One benchmark: what it measures and how to build each framework's step."""

    name: str
    description: str
    factories: dict[str, Factory]
    target: float | None = None          # the ratio to numpy we aim for (None: report only)
    variant_targets: dict = field(default_factory=dict)  # "tinygrad_edu[...]" -> its target
    extra_baselines: tuple = ()          # more numpy versions, reported beside the frameworks
    steps_per_round: int | None = None   # fixed number of steps per round (else calibrated)
    info: dict = field(default_factory=dict)


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _data(rng, n_samples: int, layout: str, sizes=(MNIST_FEATURES, MNIST_CLASSES)):
    """Random inputs (standard normal) of sizes[0] features and labels in [0, sizes[-1])."""
    x = rng.standard_normal((n_samples, sizes[0]), dtype=np.float32)
    labels = rng.integers(0, sizes[-1], size=n_samples)
    if layout == "columns":
        x = np.ascontiguousarray(x.T)
    return x, labels


# ---- the framework versions of one MLP training step ----------------------------------
# hidden layers are ReLU, the loss is the mean cross-entropy of softmax(logits), the update
# is plain SGD (w := w - lr dw). `make(params, layout, lr)` returns `(train_step, convert)`:
# `train_step(x, labels)` runs one step on inputs already converted by `convert(x, labels)`.

def _numpy_trainer(params, layout, lr, columns_model=nb.MLPColumns, update=nb.SGD):
    model = nb.MLPRows(params) if layout == "rows" else columns_model(params)
    update = update(params, lr)
    return (lambda x, labels: model.step(x, labels, update)), (lambda x, labels: (x, labels))


def _numpy_outer_trainer(params, layout, lr):
    """The baseline with dW = dZ a^T of one sample as a broadcasting product (W3 only)."""
    return _numpy_trainer(params, layout, lr, columns_model=nb.MLPColumnsOuter)


def _numpy_as_written_trainer(params, layout, lr):
    """The baseline with the update written `w -= lr * dw` (beside tinygrad_edu[inplace])."""
    return _numpy_trainer(params, layout, lr, update=nb.SGDAsWritten)


def mlp_logits(ps, x, layout="rows"):
    """The ReLU MLP's forward pass with any Tensor API: [W1, b1, W2, b2, ...] applied to x."""
    a, n = x, len(ps) // 2
    for i in range(n):
        w, b = ps[2 * i], ps[2 * i + 1]
        a = a @ w + b if layout == "rows" else w @ a + b
        if i < n - 1:
            a = a.relu()
    return a


def autograd_step(ps, opt, F, layout):
    """One SGD step of the ReLU MLP, written once for every framework with a Tensor API
    (tinygrad_edu, older versions of it, PyTorch): forward, mean cross-entropy, backward."""
    def train_step(x, labels):
        a = mlp_logits(ps, x, layout)
        loss = F.cross_entropy(a if layout == "rows" else a.T, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return train_step


def _tinygrad_trainer(params, layout, lr):
    from tinygrad_edu import Tensor
    from tinygrad_edu.nn import functional as F
    from tinygrad_edu.optim import SGD

    ps = [Tensor(p.copy(), requires_grad=True) for p in params]
    return (autograd_step(ps, SGD(ps, lr=lr), F, layout),
            (lambda x, labels: (Tensor(x), labels)))


def _tinygrad_linear_trainer(params, layout, lr):
    """The user's path: nn.Linear layers (weight stored (out, in)), F.cross_entropy, optim.SGD."""
    from tinygrad_edu import Tensor, optim
    from tinygrad_edu.nn import functional as F

    model = _linear_model(params)
    opt = optim.SGD(model.parameters(), lr=lr)

    def train_step(x, labels):
        loss = F.cross_entropy(model(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return train_step, (lambda x, labels: (Tensor(x), labels))


def _tinygrad_inplace_trainer(params, layout, lr, one_pass=False):
    """Plain tensors `x @ W + b`, updated as in the tutorial: `p -= lr * p.grad` under no_grad
    (with `one_pass`, as PyTorch's optimisers write it: `p.sub_(p.grad, alpha=lr)`)."""
    from tinygrad_edu import Tensor, no_grad
    from tinygrad_edu.nn import functional as F

    ps = [Tensor(p.copy(), requires_grad=True) for p in params]

    def train_step(x, labels):
        loss = F.cross_entropy(mlp_logits(ps, x), labels)
        for p in ps:
            p.grad = None
        loss.backward()
        with no_grad():
            for p in ps:
                if one_pass:
                    p.sub_(p.grad, alpha=lr)
                else:
                    p -= lr * p.grad
        return loss

    return train_step, (lambda x, labels: (Tensor(x), labels))


def _tinygrad_alpha_trainer(params, layout, lr):
    """Plain tensors `x @ W + b`, updated in one pass: `p.sub_(p.grad, alpha=lr)`."""
    return _tinygrad_inplace_trainer(params, layout, lr, one_pass=True)


def _tinygrad_composed_trainer(params, layout, lr):
    """The loss written out from ops: -(Y * log_softmax(logits)).sum(dim=1).mean()."""
    from tinygrad_edu import Tensor
    from tinygrad_edu.optim import SGD

    ps = [Tensor(p.copy(), requires_grad=True) for p in params]
    opt = SGD(ps, lr=lr)

    def train_step(x, y):
        loss = -(y * mlp_logits(ps, x).log_softmax(dim=1)).sum(dim=1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def convert(x, labels):
        return Tensor(x), Tensor(np.eye(params[-1].shape[0], dtype=np.float32)[labels])

    return train_step, convert


VARIANTS = {"tinygrad_edu[linear]": _tinygrad_linear_trainer,
            "tinygrad_edu[inplace]": _tinygrad_inplace_trainer,
            "tinygrad_edu[inplace-alpha]": _tinygrad_alpha_trainer,
            "tinygrad_edu[composed]": _tinygrad_composed_trainer}


def _torch_trainer(params, layout, lr):
    import torch
    import torch.nn.functional as F

    ps = [torch.tensor(p, requires_grad=True) for p in params]
    return (autograd_step(ps, torch.optim.SGD(ps, lr=lr), F, layout),
            (lambda x, labels: (torch.from_numpy(x), torch.from_numpy(labels))))


TRAINERS = {"numpy": _numpy_trainer, "tinygrad_edu": _tinygrad_trainer, "torch": _torch_trainer}
NUMPY_BASELINES = {"numpy[inplace]": _numpy_as_written_trainer}


def _mlp_workload(name, description, sizes, batch, layout, lr, target, seed=0,
                  variant_targets=None):
    """Repeated training steps on one fixed batch; in the rows layout, also the user-path
    variants (`variant_targets`) and numpy in the columns layout."""
    def factory(framework, layout=layout):
        trainer = TRAINERS.get(framework) or VARIANTS.get(framework) or NUMPY_BASELINES[framework]

        def build():
            rng = np.random.default_rng(seed)
            params = nb.init_params(sizes, rng, layout)
            train_step, convert = trainer(params, layout, lr)
            x, labels = convert(*_data(rng, batch, layout, sizes))
            return lambda: train_step(x, labels)
        return build

    factories = {fw: factory(fw) for fw in TRAINERS}
    variant_targets = variant_targets or {}
    factories.update({fw: factory(fw) for fw in variant_targets})
    extra = ()
    if layout == "rows":
        factories["numpy-columns"] = factory("numpy", "columns")
        extra = ("numpy-columns",)
    if "tinygrad_edu[inplace]" in variant_targets:
        factories["numpy[inplace]"] = factory("numpy[inplace]")
        extra += ("numpy[inplace]",)
    return Workload(name, description, factories, target, variant_targets=variant_targets,
                    extra_baselines=extra,
                    info={"sizes": list(sizes), "batch": batch, "layout": layout})


def _per_example_workload(name, description, sizes, n_samples, lr, target, seed=0):
    """Document 001's loop: one sample (a column) per SGD step, cycling through a set."""
    def factory(framework):
        def build():
            rng = np.random.default_rng(seed)
            params = nb.init_params(sizes, rng, "columns")
            trainer = _numpy_outer_trainer if framework == "numpy-outer" else TRAINERS[framework]
            train_step, convert = trainer(params, "columns", lr)
            x, labels = _data(rng, n_samples, "columns", sizes)
            samples = [convert(np.ascontiguousarray(x[:, i:i + 1]), labels[i:i + 1])
                       for i in range(n_samples)]
            position = [0]

            def step():
                i = position[0]
                position[0] = (i + 1) % n_samples
                return train_step(*samples[i])
            return step
        return build

    factories = {fw: factory(fw) for fw in TRAINERS}
    factories["numpy-outer"] = factory("numpy-outer")
    return Workload(name, description, factories, target, extra_baselines=("numpy-outer",),
                    info={"sizes": list(sizes), "batch": 1, "layout": "columns",
                          "samples_cycled": n_samples})


# ---- the default preset: 784-256-128-10 ReLU, Adam, batch 128 --------------------------

PRESET_SIZES = (784, 256, 128, 10)


def _preset_numpy(params, lr):
    return nb.MLPRows(params), nb.Adam(params, lr=lr)


def _linear_model(params):
    """nn.Linear layers (weight stored (out, in)) with ReLU between, holding copies of `params`
    (rows layout)."""
    from tinygrad_edu import nn

    layers = []
    for i in range(len(params) // 2):
        w, b = params[2 * i], params[2 * i + 1]
        layer = nn.Linear(w.shape[0], w.shape[1])
        layer.weight.data[...] = w.T
        layer.bias.data[...] = b
        layers += [layer, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _preset_tinygrad(params, lr):
    """The preset as a user writes it: Linear layers (weight (out, in)) and optim.Adam."""
    from tinygrad_edu import optim

    model = _linear_model(params)
    return model, optim.Adam(model.parameters(), lr=lr)


def _preset_torch(params, lr):
    import torch

    layers = []
    for i in range(len(params) // 2):
        w, b = params[2 * i], params[2 * i + 1]
        layer = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w.T))
            layer.bias.copy_(torch.from_numpy(b))
        layers += [layer, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    return model, torch.optim.Adam(model.parameters(), lr=lr)


def _epoch_workload(name, description, n_samples, batch, lr, seed=0):
    def build_numpy():
        rng = np.random.default_rng(seed)
        model, opt = _preset_numpy(nb.init_params(PRESET_SIZES, rng), lr)
        x, labels = _data(rng, n_samples, "rows")

        def epoch():
            for i in range(0, n_samples, batch):
                model.step(x[i:i + batch], labels[i:i + batch], opt)
        return epoch

    def build_tinygrad():
        from tinygrad_edu import Tensor
        from tinygrad_edu.nn import functional as F

        rng = np.random.default_rng(seed)
        model, opt = _preset_tinygrad(nb.init_params(PRESET_SIZES, rng), lr)
        x, labels = _data(rng, n_samples, "rows")

        def epoch():
            for i in range(0, n_samples, batch):
                loss = F.cross_entropy(model(Tensor(x[i:i + batch])), labels[i:i + batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return epoch

    def build_torch():
        import torch
        import torch.nn.functional as F

        rng = np.random.default_rng(seed)
        model, opt = _preset_torch(nb.init_params(PRESET_SIZES, rng), lr)
        x, labels = _data(rng, n_samples, "rows")
        x, labels = torch.from_numpy(x), torch.from_numpy(labels)

        def epoch():
            for i in range(0, n_samples, batch):
                loss = F.cross_entropy(model(x[i:i + batch]), labels[i:i + batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return epoch

    return Workload(name, description, {"numpy": build_numpy, "tinygrad_edu": build_tinygrad,
                                        "torch": build_torch}, None, steps_per_round=1,
                    info={"sizes": list(PRESET_SIZES), "batch": batch, "samples": n_samples,
                          "optimiser": "Adam"})


def _inference_workload(name, description, batch, seed=0):
    def build_numpy():
        rng = np.random.default_rng(seed)
        model = nb.MLPRows(nb.init_params(PRESET_SIZES, rng))
        x, _ = _data(rng, batch, "rows")
        return lambda: model.forward(x).argmax(axis=1)

    def build_tinygrad():
        from tinygrad_edu import Tensor, no_grad

        rng = np.random.default_rng(seed)
        model, _ = _preset_tinygrad(nb.init_params(PRESET_SIZES, rng), 1e-3)
        x, _ = _data(rng, batch, "rows")
        x = Tensor(x)

        def step():
            with no_grad():
                return model(x).argmax(dim=1)
        return step

    def build_torch():
        import torch

        rng = np.random.default_rng(seed)
        model, _ = _preset_torch(nb.init_params(PRESET_SIZES, rng), 1e-3)
        x, _ = _data(rng, batch, "rows")
        x = torch.from_numpy(x)

        def step():
            with torch.no_grad():
                return model(x).argmax(dim=1)
        return step

    return Workload(name, description, {"numpy": build_numpy, "tinygrad_edu": build_tinygrad,
                                        "torch": build_torch}, None,
                    info={"sizes": list(PRESET_SIZES), "batch": batch})


def _cnn_workload(name, description, seed=0):
    """One training step of examples/mnist_cnn.py's network at batch 64 (benchmarks/cnn.py)."""
    from . import cnn

    def factory(framework):
        def build():
            rng = np.random.default_rng(seed)
            params, (x, labels) = cnn.init_params(rng), cnn.data(rng)
            train = cnn.FRAMEWORKS[framework](params)
            return lambda: train(x, labels)
        return build

    return Workload(name, description, {fw: factory(fw) for fw in cnn.FRAMEWORKS}, 1.15,
                    info={"batch": cnn.BATCH, "network": "examples/mnist_cnn.py's default"})


# ---- the catalogue ---------------------------------------------------------------------

SIZES = {
    #          W2 samples, W3 sample set, epoch samples, inference batch
    "full": {"w2_m": 10_000, "w3_n": 256, "epoch_n": 60_000, "infer_b": 1_000},
    "smoke": {"w2_m": 500, "w3_n": 16, "epoch_n": 256, "infer_b": 100},
}


def timed_workloads(mode: str = "full") -> list[Workload]:
    """The workloads timed against numpy, in report order ('full' or 'smoke' sizes)."""
    s = SIZES["smoke" if mode == "smoke" else "full"]
    return [
        _mlp_workload("W1", "784-128-10 ReLU MLP, batch 128, one SGD step (rows, X W)",
                      (784, 128, 10), 128, "rows", 0.01, 1.10,
                      variant_targets={"tinygrad_edu[linear]": 1.10,
                                       "tinygrad_edu[inplace]": 1.10,
                                       "tinygrad_edu[inplace-alpha]": None,
                                       "tinygrad_edu[composed]": 1.20}),
        _mlp_workload("W2", f"784-10-10 (doc 000), full batch m={s['w2_m']}, one GD step "
                      "(columns, W X)", (784, 10, 10), s["w2_m"], "columns", 0.1, 1.05),
        _per_example_workload("W3", "784-128-64-10 (doc 001), per-example SGD, batch 1 "
                              "(columns, W x)", (784, 128, 64, 10), s["w3_n"], 0.01, 1.30),
        _mlp_workload("MICRO", "16-16-10 MLP, batch 8, one SGD step: per-op overhead",
                      (16, 16, 10), 8, "rows", 0.01, 2.5,
                      variant_targets={"tinygrad_edu[linear]": 2.5,
                                       "tinygrad_edu[composed]": 4.0}),
        _inference_workload("INFER", f"784-256-128-10 forward + argmax, batch "
                            f"{s['infer_b']}, no_grad", s["infer_b"]),
        _epoch_workload("EPOCH", f"784-256-128-10 ReLU, Adam, batch 128, one epoch of "
                        f"{s['epoch_n']} samples", s["epoch_n"], 128, 1e-3),
        _cnn_workload("CNN", "the CNN example's network (conv-bn-relu-pool x2, linear x2, "
                      "dropout), batch 64, one Adam step, against numpy im2col"),
    ]
