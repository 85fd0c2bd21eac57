"""A loop's trip count that TorchScript cannot read when it freezes a graph.

`torch.jit.freeze` unrolls every loop whose trip count is a constant: fully when it is short, by eight otherwise,
copying the body (and everything inlined into it) into the graph each time. The copies do not make a call
faster, but they make the saved graph larger, and a worker that loads it holds a transient that grows with the
graph: the closed-form solve's loops, unrolled, took 83 KB of the archive's code and 240 MiB more at load.
"""
from torch import Tensor


def loop_count(count: int, like: Tensor) -> int:
    """`count` as computed from `like`'s shape, which freezing does not fold into a constant (`like` must not
    be empty)."""
    return count * like.shape[0] // like.shape[0]
