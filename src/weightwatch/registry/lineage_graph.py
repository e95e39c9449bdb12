"""A version's whole lineage as a graph: every ancestor (parents, their parents, …) and
every descendant, one node per version and one edge per parent–child pair carrying what
was declared in a card and what was detected from the weights, each with its own
relation (a card may declare a merge the weights show as a fine-tune).

Read one generation per query in each direction and bounded by ``limit`` nodes, so a
wide family cannot make a page slow. Who may see which version is not decided here:
:meth:`Registry.lineage_graph` prunes the graph with the one visibility rule.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from weightwatch.registry import queries
from weightwatch.registry.views import TreeNode
from weightwatch.reports import Record

LIMIT = 60  # versions drawn around one version at most


class GraphNode(Record):
    model: str  # namespace/name@number
    status: str


class GraphEdge(Record):
    parent: str
    child: str
    declared: str | None  # the relation the card declares, if it declares this parent
    detected: str | None  # the relation the weights show, if they were matched

    @property
    def relation(self) -> str:
        """What the edge is labelled with: one relation, or both where they disagree."""
        if self.declared and self.detected and self.declared != self.detected:
            return f"{self.declared} (declared) · {self.detected} (detected)"
        return self.detected or self.declared or "related"

    @property
    def kind(self) -> str:
        """``declared``, ``detected`` or ``declared+detected``."""
        return "+".join(k for k in ("declared", "detected") if getattr(self, k))


class LineageGraph(Record):
    root: str
    nodes: list[GraphNode]  # the root first, then ancestors and descendants as read
    edges: list[GraphEdge]
    truncated: int  # versions left out because of the limit

    def prune(self, keep: Callable[[GraphNode], bool]) -> LineageGraph:
        """The graph without the nodes ``keep`` refuses, and without whatever is then no
        longer connected to the root along ancestor or descendant paths."""
        kept = {n.model for n in self.nodes if n.model == self.root or keep(n)}
        edges = [e for e in self.edges if e.parent in kept and e.child in kept]
        reach = {self.root}
        for upward in (True, False):
            frontier = {self.root}
            while frontier:
                step = {
                    (e.parent if upward else e.child)
                    for e in edges
                    if (e.child if upward else e.parent) in frontier
                }
                frontier = step - reach
                reach |= step
        return LineageGraph(
            root=self.root,
            nodes=[n for n in self.nodes if n.model in reach],
            edges=[e for e in edges if e.parent in reach and e.child in reach],
            truncated=self.truncated,
        )


def read(conn: Connection, root: int, *, limit: int = LIMIT) -> LineageGraph:
    """The lineage of version ``root``: ancestors upward and descendants downward."""
    known: list[int] = [root]
    pairs: dict[tuple[int, int], dict[str, str]] = {}
    dropped: set[int] = set()
    for upward in (True, False):
        seen, frontier = {root}, {root}
        while frontier:
            rows = (queries.parents_of if upward else queries.children_of)(conn, frontier)
            frontier = set()
            for r in rows:
                parent, child = int(r.parent_id), int(r.child_id)
                other = parent if upward else child
                if other == root or other in dropped:
                    continue
                if other not in known:
                    if len(known) >= limit:
                        dropped.add(other)
                        continue
                    known.append(other)
                pairs.setdefault((parent, child), {})[r.kind] = r.relation
                if other not in seen:
                    seen.add(other)
                    frontier.add(other)
    info = queries.labels(conn, set(known))
    return LineageGraph(
        root=info[root][0],
        nodes=[GraphNode(model=info[i][0], status=info[i][1]) for i in known],
        edges=[
            GraphEdge(
                parent=info[p][0],
                child=info[c][0],
                declared=kinds.get("declared"),
                detected=kinds.get("detected"),
            )
            for (p, c), kinds in pairs.items()
            if p in info and c in info
        ],
        truncated=len(dropped),
    )


def descendant_tree(conn: Connection, root: int) -> TreeNode:
    """``root``'s descendants (by detected or declared edges) as a tree; a child both
    declared and detected is one node. One query per generation."""
    kids: dict[int, dict[int, dict[str, str]]] = {}
    known, frontier = {root}, {root}
    while frontier:
        rows = queries.children_of(conn, frontier)
        frontier = set()
        for r in rows:
            child = int(r.child_id)
            kids.setdefault(int(r.parent_id), {}).setdefault(child, {})[r.kind] = r.relation
            if child not in known:
                known.add(child)
                frontier.add(child)
    info = queries.labels(conn, known)

    def node(vid: int, relation: str | None, kind: str | None, seen: frozenset[int]) -> TreeNode:
        label, status = info[vid]
        return TreeNode(
            model=label,
            status=status,
            relation=relation,
            kind=kind,
            children=[
                node(
                    child,
                    by_kind.get("detected") or by_kind["declared"],
                    "+".join(sorted(by_kind)),  # declared | detected | declared+detected
                    seen | {vid},
                )
                for child, by_kind in kids.get(vid, {}).items()
                if child not in seen and child != vid
            ],
        )

    return node(root, None, None, frozenset())
