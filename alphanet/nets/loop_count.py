"""Loops in a graph that TorchScript freezes: trip counts it cannot read, and branches written as loops.

`torch.jit.freeze` unrolls every loop whose trip count is a constant: fully when it is short, by eight otherwise,
copying the body (and everything inlined into it) into the graph each time. The copies do not make a call
faster, but they make the saved graph larger, and a worker that loads it holds a transient that grows with the
graph: the closed-form solve's loops, unrolled, took 83 KB of the archive's code and 240 MiB more at load.

Branches cost a worker memory at load too. Freezing inlines the whole graph into one function, and when
`torch.jit.load` compiles it, every variable assigned in only one arm of an `if` keeps an error report that holds
a copy of the function's whole source until the function is compiled: a branch around an inlined network makes
thousands of them. A loop keeps none, so the archive writes each branch that holds a network as a loop of one
trip or none (`trips`): loading the bf16 archive then peaked at 748 MiB instead of 1582 (docs/deployment.md).
"""
from torch import Tensor


def loop_count(count: int, like: Tensor) -> int:
    """`count` as computed from `like`'s shape, which freezing does not fold into a constant (`like` must not
    be empty)."""
    return count * like.shape[0] // like.shape[0]


def trips(condition: bool) -> int:
    """1 where `condition` holds, else 0: `for _ in range(trips(condition))` is `if condition` for a branch
    around a network, which a worker then compiles without the memory an `if` takes (see the module docstring)."""
    return 1 if condition else 0
