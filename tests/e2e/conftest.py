"""End-to-end fixtures: nodes that are always stopped and whose IPC queues are removed."""

import pytest

from tests.e2e.nodes import Node


@pytest.fixture
def make_node(tmp_path):
    """``make_node(name, **kwargs) -> Node`` in ``tmp_path/name``; all stopped at teardown."""
    nodes: list[Node] = []

    def make(name: str = "node1", **kwargs) -> Node:
        node = Node(tmp_path / name, name=name, **kwargs)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        try:
            node.stop()
        finally:
            node.remove_ipc_queue()
