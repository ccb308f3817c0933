"""graphlab: see backpropagation. Text -> operator graph -> step-by-step trace."""

from .build import from_sympy, from_text, node_expr
from .errors import EvaluationError, GraphlabError, ParseError
from .ops import OPS, Op
from .trace import Trace, gradient_exprs, local_formula, trace

__all__ = ["OPS", "Op", "Trace", "GraphlabError", "ParseError", "EvaluationError", "from_text", "from_sympy",
           "node_expr", "trace", "gradient_exprs", "local_formula", "graph"]

graph = from_text  # graphlab.graph("(x+y)z")
