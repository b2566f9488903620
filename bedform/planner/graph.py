"""The planner's dependency DAG and the one walk over it.

Nodes are hashable and ordered: addresses, or `(operation, address)` pairs. An edge
`first -> then` means `then` waits for `first`. The same `Walk` orders the desired
resources of a plan, runs a plan's operations in the executor (deletes are linked in
reverse, so a destroy removes dependents first) and, through `ancestors`, finds what
`--target` needs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

import networkx as nx


class OrderedNode(Protocol):
    """What a node must be: hashable (a graph key) and ordered (smallest ready first)."""

    def __hash__(self) -> int: ...

    def __lt__(self, other: Any, /) -> bool: ...


N = TypeVar("N", bound=OrderedNode)


class Dag(Generic[N]):
    """A directed acyclic graph of planner nodes (cycles are found by `order`)."""

    def __init__(self) -> None:
        self._graph: Any = nx.DiGraph()

    def add(self, node: N) -> None:
        """Add a node (adding it twice keeps one)."""
        self._graph.add_node(node)

    def link(self, first: N, then: N) -> None:
        """Make `then` wait for `first` (either is added if missing)."""
        self._graph.add_edge(first, then)

    def __contains__(self, node: object) -> bool:
        return node in self._graph

    def __iter__(self) -> Iterator[N]:
        return iter(self._graph)

    def __len__(self) -> int:
        return len(self._graph)

    @property
    def nodes(self) -> list[N]:
        """Every node, in insertion order."""
        return list(self._graph)

    @property
    def edges(self) -> list[tuple[N, N]]:
        """Every `(first, then)` pair."""
        return list(self._graph.edges)

    def successors(self, node: N) -> list[N]:
        """The nodes waiting directly for `node`, smallest first."""
        return sorted(self._graph.successors(node))

    def waits_for(self, node: N) -> int:
        """How many nodes `node` waits for directly."""
        return int(self._graph.in_degree(node))

    def descendants(self, node: N) -> set[N]:
        """Every node that waits for `node`, directly or not."""
        return set(nx.descendants(self._graph, node))

    def ancestors(self, node: N) -> set[N]:
        """Every node `node` waits for, directly or not."""
        return set(nx.ancestors(self._graph, node))

    def walk(self) -> Walk[N]:
        """A fresh walk of this graph."""
        return Walk(self)

    def order(self) -> list[N]:
        """The nodes in dependency order, smallest ready node first (deterministic);
        nodes on or behind a cycle are left out."""
        walk = self.walk()
        order: list[N] = []
        while walk:
            node = walk.next()
            order.append(node)
            walk.done(node)
        return order


class Walk(Generic[N]):
    """Hands out the nodes whose predecessors are all done, smallest first; a failed
    node's descendants are never handed out (they are `blocked`)."""

    def __init__(self, dag: Dag[N]) -> None:
        self._dag = dag
        self._waiting = {node: dag.waits_for(node) for node in dag}
        self._ready: list[N] = [node for node, count in self._waiting.items() if count == 0]
        heapq.heapify(self._ready)
        self.blocked: set[N] = set()

    def __bool__(self) -> bool:
        """Whether a node is ready."""
        return bool(self._ready)

    def next(self) -> N:
        """The smallest ready node (call only when the walk is true)."""
        return heapq.heappop(self._ready)

    def done(self, node: N) -> None:
        """`node` succeeded: what waited only for it becomes ready."""
        for successor in self._dag.successors(node):
            self._waiting[successor] -= 1
            if self._waiting[successor] == 0 and successor not in self.blocked:
                heapq.heappush(self._ready, successor)

    def failed(self, node: N) -> None:
        """`node` failed: everything that waits for it is blocked."""
        self.blocked |= self._dag.descendants(node)
