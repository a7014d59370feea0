"""Draw the graphs that `.backward()` walks: a scalar expression and an MNIST MLP's training step.

Writes, to --out (default docs/images):

  scalar_expression.svg/.png   e = relu(a * b + c) after backward: values, gradients and each
                               op's backward rule (every value and gradient kept)
  scalar_after_backward.svg/.png  the same after a plain e.backward(): the leaves' values and
                               gradients, the intermediate values marked as freed
  mlp_training_graph.svg/.png  a 784-128-10 MLP on a batch of real MNIST digits (the sample
                               shipped in the package), cross-entropy loss, after backward:
                               gradient statistics on every tensor, each layer a cluster

and the DOT source of each beside it (.dot). Prints `text_graph` and `explain` of both.
With --player, writes instead the backward player (one HTML page each, stepping through the
rule calls of the real backward pass; open it in a browser) to docs/player (or the folder
given): scalar_backward.html for e = relu(a * b + c), mlp_backward.html for the MLP.
Runs offline; the pictures need the Graphviz program `dot` (apt-get install graphviz).

Examples
--------
    python examples/draw_graph.py
    python examples/draw_graph.py --out /tmp/graphs --batch 4 --hidden 32
    python examples/draw_graph.py --player
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tinygrad_edu import Tensor, nn, viz
from tinygrad_edu.data import mnist_sample, to_float
from tinygrad_edu.nn import functional as F


class MLP(nn.Module):
    """fc1, ReLU, fc2, ...: the MNIST network of the seed documents, samples in rows."""

    def __init__(self, sizes: list[int], seed: int = 0):
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            setattr(self, f"fc{i}", nn.Linear(n_in, n_out, rng=seed + i))

    def forward(self, x: Tensor) -> Tensor:
        *hidden, last = self.children()
        for layer in hidden:
            x = layer(x).relu()
        return last(x)


def scalar_expression(keep: bool = True, backward: bool = True) -> Tensor:
    """e = relu(a * b + c) with a = 2, b = -3, c = 10, after backward: with `keep`, every value
    and gradient is kept; without, a plain backward frees the intermediate values. With
    `backward=False`, before backward."""
    a, b, c = (Tensor([v], requires_grad=True) for v in (2.0, -3.0, 10.0))
    a.name, b.name, c.name = "a", "b", "c"
    e = (a * b + c).relu()
    e.name = "e"
    if not backward:
        return e
    if keep:
        viz.retain_grads(e).backward(retain_graph=True)  # keep every value and gradient
    else:
        e.backward()
    return e


def mlp_training_step(sizes: list[int], batch: int, seed: int = 0,
                      backward: bool = True) -> tuple[MLP, Tensor]:
    """One forward and backward pass of the MLP on `batch` shipped MNIST digits (with
    `backward=False`, the forward pass only)."""
    images, labels = mnist_sample("train")
    pick = np.random.default_rng(seed).choice(len(images), size=batch, replace=False)
    x = Tensor(to_float(images[pick]))             # (batch, 784) float32 in [0, 1]
    x.name = "images"
    model = MLP(sizes, seed)
    loss = F.cross_entropy(model(x), labels[pick])
    loss.name = "loss"
    if backward:
        viz.retain_grads(loss).backward(retain_graph=True)
    return model, loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images", help="folder for the pictures")
    parser.add_argument("--batch", type=int, default=8, help="MNIST digits in the batch")
    parser.add_argument("--hidden", type=int, nargs="+", default=[128],
                        help="hidden layer sizes of the MLP (784-...-10)")
    parser.add_argument("--player", nargs="?", const="docs/player", metavar="DIR",
                        help="write the backward player pages to DIR (default docs/player) "
                             "instead of the pictures")
    args = parser.parse_args(argv)
    out = Path(args.out)
    sizes = [784, *args.hidden, 10]
    if args.player:
        folder = Path(args.player)
        e = scalar_expression(backward=False)
        print("wrote", viz.save_backward_player(e, folder / "scalar_backward.html"))
        model, loss = mlp_training_step(sizes, args.batch, backward=False)
        print("wrote", viz.save_backward_player(
            loss, folder / "mlp_backward.html", model=model, direction="TB",
            title=f"Backward pass of the MLP {'-'.join(map(str, sizes))} on {args.batch} "
                  "MNIST digits, cross-entropy loss"))
        return

    e = scalar_expression()
    scalar = viz.draw_graph(e, show_values=True, show_rules=True,
                            title="e = relu(a * b + c), after e.backward(retain_graph=True)")
    freed = viz.draw_graph(scalar_expression(keep=False), show_values=True, show_rules=True,
                           title="e = relu(a * b + c), after a plain e.backward()")
    model, loss = mlp_training_step(sizes, args.batch)
    mlp = viz.draw_graph(loss, model=model, collapse_modules=True, direction="TB",
                         title=f"MLP {'-'.join(map(str, sizes))} on {args.batch} MNIST digits, "
                               "cross-entropy, after backward (every gradient kept)")
    for name, graph in [("scalar_expression", scalar), ("scalar_after_backward", freed),
                        ("mlp_training_graph", mlp)]:
        for fmt in ("svg", "png"):
            print("wrote", viz.render(graph, out / name, format=fmt))

    for title, tensor, options in [("e = relu(a * b + c)", e, {}),
                                   ("the MLP's loss", loss, {"model": model})]:
        print(f"\n---- text_graph: {title}\n{viz.text_graph(tensor, **options)}")
        print(f"\n---- explain: {title}\n{viz.explain(tensor, **options)}")


if __name__ == "__main__":
    main()
