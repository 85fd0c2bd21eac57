"""Walking a scripted model's graph, for tests of what freezing left in it."""
from typing import List

import torch


def graph_nodes(block) -> List[torch._C.Node]:
    """Every node of a TorchScript graph or block, those in nested blocks (loop and branch bodies) included."""
    nodes = []
    for node in block.nodes():
        nodes.append(node)
        for inner in node.blocks():
            nodes.extend(graph_nodes(inner))
    return nodes


def convolutions(scripted) -> int:
    """How many convolution nodes the frozen graph holds, in every branch and loop."""
    return sum("conv" in node.kind() for node in graph_nodes(scripted.graph))
