"""graphlab: see backpropagation. Text -> operator graph -> step-by-step trace -> pictures, checks, code."""

from .build import from_sympy, from_text, node_expr
from .compile import compile_graph
from .descend import descend
from .errors import EvaluationError, GraphlabError, ParseError
from .explain import explain, explain_step
from .export import save, save_frames, show
from .nn import mlp
from .ops import OPS, Op
from .render import to_dot
from .trace import Trace, gradient_exprs, local_formula, trace
from .train import train
from .verify import verify

__all__ = ["OPS", "Op", "Trace", "GraphlabError", "ParseError", "EvaluationError", "from_text", "from_sympy",
           "node_expr", "trace", "gradient_exprs", "local_formula", "graph", "to_dot", "save", "save_frames", "show",
           "explain", "explain_step", "verify", "descend", "compile_graph", "mlp", "train"]

graph = from_text  # graphlab.graph("(x+y)z")
