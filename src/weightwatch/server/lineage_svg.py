"""The lineage picture on a model page: an inline SVG built on the server.

Columns left to right: the version's parents, the version, its children and their
children. Edges declared in a card are dashed, edges detected from the weights solid,
each labelled with its relation; nodes are coloured by status *and* say it in text, and
link to their model page. Every string comes from uploads, so all text and attributes
are escaped here before the picture is marked safe for the template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from markupsafe import Markup

from weightwatch.registry.registry import EdgeView, TreeNode

NODE_W, NODE_H = 210, 46
COL_GAP, ROW_GAP = 70, 14
PAD = 10
MAX_PER_COLUMN = 12
LABEL_CHARS = 28


@dataclass(frozen=True)
class _Node:
    model: str  # ns/name@N
    status: str
    current: bool = False


@dataclass(frozen=True)
class _Edge:
    parent: str
    child: str
    relation: str
    kinds: frozenset[str]


def model_href(label: str) -> str:
    """The page of a version label ``ns/name@N``."""
    name, _, number = label.partition("@")
    path = "/models/" + "/".join(quote(p, safe="") for p in name.split("/"))
    return f"{path}?v={quote(number, safe='')}" if number else path


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _columns(
    current: TreeNode,
    parents: list[tuple[EdgeView, str]],
    visible: Callable[[str, str], bool],
) -> tuple[list[list[_Node]], list[_Edge], int]:
    """The nodes per column, the edges, and how many visible nodes were left out."""
    cols: list[list[_Node]] = [[], [_Node(current.model, current.status, True)], [], []]
    edges: dict[tuple[str, str], _Edge] = {}
    dropped = 0

    def add_edge(parent: str, child: str, relation: str | None, kind: str | None) -> None:
        key = (parent, child)
        old = edges.get(key)
        kinds = frozenset({kind or "detected"}) | (old.kinds if old else frozenset())
        rel = old.relation if old else (relation or "related")
        edges[key] = _Edge(parent, child, rel, kinds)

    def place(col: int, node: _Node) -> bool:
        nonlocal dropped
        if any(n.model == node.model for n in cols[col]):
            return True
        if len(cols[col]) >= MAX_PER_COLUMN:
            dropped += 1
            return False
        cols[col].append(node)
        return True

    for edge, status in parents:
        if visible(edge.model, status) and place(0, _Node(edge.model, status)):
            add_edge(edge.model, current.model, edge.relation, edge.kind)
    for child in current.children:
        if not visible(child.model, child.status) or not place(2, _Node(child.model, child.status)):
            continue
        add_edge(current.model, child.model, child.relation, child.kind)
        for grand in child.children:
            if visible(grand.model, grand.status) and place(3, _Node(grand.model, grand.status)):
                add_edge(child.model, grand.model, grand.relation, grand.kind)
    while cols and not cols[-1] and len(cols) > 2:
        cols.pop()
    return cols, list(edges.values()), dropped


def render(
    current: TreeNode,
    parents: list[tuple[EdgeView, str]],
    *,
    visible: Callable[[str, str], bool],
) -> Markup:
    """The picture of ``current`` (from ``Registry.lineage_tree``) with its ``parents``
    (edge, parent status); ``visible(label, status)`` drops what the viewer may not see."""
    cols, edges, dropped = _columns(current, parents, visible)
    first = 0 if cols[0] else 1
    shown = cols[first:]
    rows = max(len(c) for c in shown)
    width = PAD * 2 + len(shown) * NODE_W + (len(shown) - 1) * COL_GAP
    height = PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP + (18 if dropped else 0)
    pos: dict[str, tuple[int, int]] = {}
    for ci, col in enumerate(shown):
        top = PAD + (rows - len(col)) * (NODE_H + ROW_GAP) // 2
        for ri, node in enumerate(col):
            pos.setdefault(
                node.model, (PAD + ci * (NODE_W + COL_GAP), top + ri * (NODE_H + ROW_GAP))
            )

    # Markup(...).format escapes every argument: names, relations and statuses are data.
    out = [
        Markup(
            '<svg class="lineage" role="img" aria-labelledby="lineage-title" '
            'viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
            '<title id="lineage-title">Lineage of {model}: {n} relation{s}</title>'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            'class="arrowhead"/></marker></defs>'
        ).format(
            w=width, h=height, model=current.model, n=len(edges), s="" if len(edges) == 1 else "s"
        )
    ]
    edge_svg = Markup(
        '<g class="edge {cls}"><title>{child} is a {relation} of {parent} ({how})</title>'
        '<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" '
        'marker-end="url(#arrow)"{dash}/>'
        '<text x="{mid}" y="{ty}" text-anchor="middle">{label}</text></g>'
    )
    node_svg = Markup(
        '<a href="{href}" class="node status-{status}{current}">'
        "<title>{model} ({status_text})</title>"
        '<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6"/>'
        '<text x="{tx}" y="{y1}" class="name">{label}</text>'
        '<text x="{tx}" y="{y2}" class="status">{status_text}</text></a>'
    )
    for e in edges:
        if e.parent not in pos or e.child not in pos:
            continue
        (px, py), (cx, cy) = pos[e.parent], pos[e.child]
        x1, y1, x2, y2 = px + NODE_W, py + NODE_H // 2, cx, cy + NODE_H // 2
        declared_only = e.kinds == {"declared"}
        out.append(
            edge_svg.format(
                cls="declared" if declared_only else "detected",
                child=e.child,
                relation=e.relation,
                parent=e.parent,
                how=" + ".join(sorted(e.kinds)),
                x1=x1,
                y1=y1,
                x2=x2,
                y2=y2,
                mid=(x1 + x2) // 2,
                ty=(y1 + y2) // 2 - 4,
                dash=Markup(' stroke-dasharray="6 4"') if declared_only else "",
                label=_short(e.relation),
            )
        )
    for model, (x, y) in pos.items():
        node = next(n for c in shown for n in c if n.model == model)
        out.append(
            node_svg.format(
                href=model_href(model),
                status=node.status,
                current=" current" if node.current else "",
                model=model,
                status_text=node.status.replace("_", " "),
                x=x,
                y=y,
                w=NODE_W,
                h=NODE_H,
                tx=x + 10,
                y1=y + 19,
                y2=y + 37,
                label=_short(model),
            )
        )
    if dropped:
        out.append(
            Markup('<text x="{x}" y="{y}" class="more">{n} more not drawn</text>').format(
                x=PAD, y=height - 6, n=dropped
            )
        )
    out.append(Markup("</svg>"))
    return Markup("").join(out)
