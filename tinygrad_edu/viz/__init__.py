"""Pictures of the computation graph that `.backward()` walks.

`draw_graph(t)` returns a `graphviz.Digraph` (it displays itself in Jupyter); `render` writes
SVG, PNG, PDF, JPEG or GIF (by the path's suffix) and always the DOT source beside it;
`explain(loss)` narrates the backward pass step by step; `text_graph(t)` prints the graph as
an indented tree, no graphviz needed. All three work before and after `loss.backward()`: a
plain backward frees the intermediate values (drawn as freed) and keeps the graph's shape and
the leaves' gradients. To show every value and gradient after backward: `retain_grads(loss)`,
then `loss.backward(retain_graph=True)`.

`backward_player(loss)` runs `loss.backward()` itself, with a recorder on, and plays the walk
back step by step in one self-contained HTML page (`save_backward_player` writes it to a file).

Modules: `graph` (the graph numbered, module clusters, `BACKWARD_RULES`), `draw`
(graphviz), `text` (text_graph, explain), `player` (the backward player).
"""

from .draw import GraphvizNotFoundError, draw_graph, render
from .graph import BACKWARD_RULES, retain_grads
from .player import BackwardPlayer, backward_player, save_backward_player
from .text import explain, text_graph

__all__ = ["BACKWARD_RULES", "BackwardPlayer", "GraphvizNotFoundError", "backward_player",
           "draw_graph", "explain", "render", "retain_grads", "save_backward_player",
           "text_graph"]
