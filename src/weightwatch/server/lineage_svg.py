"""The lineage picture on a model page: an inline SVG built on the server from
:class:`~weightwatch.registry.lineage_graph.LineageGraph` (the whole ancestry above the
version, its descendants below).

The layout is a layered (Sugiyama-style) drawing, top to bottom, computed here because no
maintained Python library offers one (networkx has no layered layout; grandalf has not
been released since 2023) and our graphs are small (at most ``lineage_graph.LIMIT``
versions):

1. layers: each version one row below its lowest parent (longest path from a root);
2. edges that span several rows pass through invisible bend points, one per row;
3. order within rows: a few barycentre sweeps down and up to remove crossings;
4. coordinates: rows centred, edges leave a parent and enter a child at ports spread
   along its bottom and top edge, so they do not start from one point;
5. labels: each edge's relation is placed *on* that edge (its box centred on the edge's
   polyline), at the first point along it where the box touches no node, no other
   label and no other edge; where none is free the rows are moved apart and the
   placement tried again.

Declared edges are dashed, detected ones solid; an edge a card declares as one relation
and the weights show as another says both. Nodes are coloured by status *and* say it in
text, and link to their model page. Every string comes from uploads, so all text and
attributes are escaped (``Markup.format``) before the picture is marked safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from urllib.parse import quote

from markupsafe import Markup

from weightwatch.registry.lineage_graph import GraphEdge, LineageGraph

NODE_W, NODE_H = 200, 46
COL_GAP = 28  # between nodes of one row
ROW_GAP = 64  # between rows, grown when labels need room
PAD = 10
LABEL_CHARS = 28  # of a node's name
EDGE_CHARS = 40  # of an edge's label (room for both relations of a disagreeing edge)
CHAR_W, LABEL_H = 6.4, 15  # a label's box per character (11px font) and its height
SWEEPS = 4
# where along its edge a label is tried: the middle first, then outwards
TRIES = sorted((k / 40 for k in range(4, 37)), key=lambda t: abs(t - 0.5))

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class _Route:
    edge: GraphEdge
    points: list[Point] = field(default_factory=list)
    label: str = ""
    box: Box | None = None


def model_href(label: str) -> str:
    """The page of a version label ``ns/name@N``."""
    name, _, number = label.partition("@")
    path = "/models/" + "/".join(quote(p, safe="") for p in name.split("/"))
    return f"{path}?v={quote(number, safe='')}" if number else path


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def layers(graph: LineageGraph) -> dict[str, int]:
    """Each version's row: one below its lowest parent (edges closing a cycle, which
    the registry never stores, are ignored)."""
    parents: dict[str, list[str]] = {n.model: [] for n in graph.nodes}
    for e in graph.edges:
        parents[e.child].append(e.parent)
    row: dict[str, int] = {}

    def depth(model: str, stack: frozenset[str]) -> int:
        if model not in row:
            ups = [p for p in parents[model] if p not in stack]
            row[model] = 1 + max((depth(p, stack | {model}) for p in ups), default=-1)
        return row[model]

    for n in graph.nodes:
        depth(n.model, frozenset())
    return row


def _order(rows: list[list[str]], links: list[tuple[str, str]]) -> None:
    """Barycentre sweeps: sort each row by the mean position of its neighbours in the
    row above (going down) or below (going up)."""
    ups: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for a, b in links:
        downs.setdefault(a, []).append(b)
        ups.setdefault(b, []).append(a)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        seq = range(1, len(rows)) if down else range(len(rows) - 2, -1, -1)
        for i in seq:
            ref = rows[i - 1] if down else rows[i + 1]
            where = {m: k for k, m in enumerate(ref)}
            near = ups if down else downs
            now = {m: k for k, m in enumerate(rows[i])}

            def centre(m: str, w: dict[str, int] = where, n: dict[str, list[str]] = near,
                       here: dict[str, int] = now) -> float:  # fmt: skip
                ks = [w[o] for o in n.get(m, []) if o in w]
                return sum(ks) / len(ks) if ks else here[m]

            rows[i].sort(key=centre)


def _segments(points: list[Point]) -> list[tuple[Point, Point]]:
    return list(pairwise(points))


def _crosses(seg: tuple[Point, Point], box: Box) -> bool:
    """Whether a line segment meets a box (Liang–Barsky clipping)."""
    (x1, y1), (x2, y2) = seg
    dx, dy = x2 - x1, y2 - y1
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, x1 - box[0]), (dx, box[2] - x1), (-dy, y1 - box[1]), (dy, box[3] - y1)):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
    return lo <= hi


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _along(points: list[Point], t: float) -> Point:
    """The point a fraction ``t`` of the way along a polyline."""
    segs = _segments(points)
    lengths = [((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5 for a, b in segs]
    goal = t * sum(lengths)
    for (a, b), n in zip(segs, lengths, strict=True):
        if goal <= n and n > 0:
            f = goal / n
            return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))
        goal -= n
    return points[-1]


@dataclass
class Layout:
    """Where everything goes: node boxes, edge polylines with their label boxes."""

    width: float
    height: float
    nodes: dict[str, Box]
    routes: list[_Route]
    unplaced: int  # labels that found no free spot (drawn at their edge's middle)


def layout(graph: LineageGraph) -> Layout:
    """The layered drawing of ``graph`` (see the module docstring)."""
    row = layers(graph)
    depth = max(row.values(), default=0) + 1
    rows: list[list[str]] = [[] for _ in range(depth)]
    for n in graph.nodes:
        rows[row[n.model]].append(n.model)
    chains: list[tuple[GraphEdge, list[str]]] = []
    links: list[tuple[str, str]] = []
    for i, e in enumerate(graph.edges):
        chain = [e.parent]
        for r in range(row[e.parent] + 1, row[e.child]):
            bend = f"\0bend{i}:{r}"
            rows[r].append(bend)
            chain.append(bend)
        chain.append(e.child)
        chains.append((e, chain))
        links += list(pairwise(chain))
    _order(rows, links)
    gap, col_gap = ROW_GAP, COL_GAP
    for _ in range(8):
        placed = _place(rows, chains, gap, col_gap)
        if placed.unplaced == 0:
            return placed
        gap, col_gap = gap + 30, col_gap + 30
    return placed


def _place(
    rows: list[list[str]], chains: list[tuple[GraphEdge, list[str]]], gap: float, col_gap: float
) -> Layout:
    def wide(m: str) -> float:
        return 0 if m.startswith("\0") else NODE_W

    widths = [sum(wide(m) for m in r) + col_gap * max(len(r) - 1, 0) for r in rows]
    width = PAD * 2 + max(widths, default=NODE_W)
    at: dict[str, Point] = {}  # top-left of nodes; the point itself for bends
    for i, r in enumerate(rows):
        x = PAD + (width - 2 * PAD - widths[i]) / 2
        y = PAD + i * (NODE_H + gap)
        for m in r:
            at[m] = (x, y + NODE_H / 2) if m.startswith("\0") else (x, y)
            x += wide(m) + col_gap
    nodes = {m: (x, y, x + NODE_W, y + NODE_H) for m, (x, y) in at.items() if "\0" not in m}
    # ports: a node's outgoing edges leave along its bottom edge in the order of where
    # they go, its incoming edges enter along its top edge in the order of where they
    # come from
    outs: dict[str, list[int]] = {}
    ins: dict[str, list[int]] = {}
    for k, (_, chain) in enumerate(chains):
        outs.setdefault(chain[0], []).append(k)
        ins.setdefault(chain[-1], []).append(k)

    def port(model: str, k: int, edges: list[int], *, bottom: bool) -> Point:
        box = nodes[model]
        order = sorted(edges, key=lambda j: at[_next(chains[j][1], bottom)][0])
        slot = order.index(k) + 1
        x = box[0] + NODE_W * slot / (len(edges) + 1)
        return (x, box[3] if bottom else box[1])

    routes: list[_Route] = []
    for k, (edge, chain) in enumerate(chains):
        start = port(chain[0], k, outs[chain[0]], bottom=True)
        end = port(chain[-1], k, ins[chain[-1]], bottom=False)
        routes.append(
            _Route(
                edge,
                [start, *(at[b] for b in chain[1:-1]), end],
                _short(edge.relation, EDGE_CHARS),
            )
        )
    unplaced = _labels(routes, list(nodes.values()))
    height = PAD * 2 + len(rows) * NODE_H + (len(rows) - 1) * gap
    return Layout(width, height, nodes, routes, unplaced)


def _next(chain: list[str], bottom: bool) -> str:
    return chain[1] if bottom else chain[-2]


def _labels(routes: list[_Route], nodes: list[Box]) -> int:
    """Put each label on its own edge where its box is free; returns how many found no
    free place (those sit at their edge's middle)."""
    taken: list[Box] = []
    unplaced = 0
    for r in sorted(routes, key=lambda r: -len(r.label)):
        w = len(r.label) * CHAR_W + 6
        chosen: Box | None = None
        for t in TRIES:
            x, y = _along(r.points, t)
            box = (x - w / 2, y - LABEL_H / 2, x + w / 2, y + LABEL_H / 2)
            if any(_overlap(box, b) for b in nodes + taken):
                continue
            if any(_crosses(s, box) for o in routes if o is not r for s in _segments(o.points)):
                continue
            chosen = box
            break
        if chosen is None:
            unplaced += 1
            x, y = _along(r.points, 0.5)
            chosen = (x - w / 2, y - LABEL_H / 2, x + w / 2, y + LABEL_H / 2)
        r.box = chosen
        taken.append(chosen)
    return unplaced


def render(graph: LineageGraph) -> Markup:
    """The picture of ``graph`` as accessible inline SVG (a titled group of links; the
    page's table says the same in text)."""
    lay = layout(graph)
    status = {n.model: n.status for n in graph.nodes}
    n_edges = len(graph.edges)
    out = [
        Markup(
            '<svg class="lineage" role="group" aria-labelledby="lineage-title" '
            'viewBox="0 0 {w:.0f} {h:.0f}" width="{w:.0f}" height="{h:.0f}" '
            'xmlns="http://www.w3.org/2000/svg">'
            '<title id="lineage-title">Lineage of {model}: {n} relation{s}</title>'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            'class="arrowhead"/></marker></defs>'
        ).format(
            w=lay.width,
            h=lay.height + (18 if graph.truncated else 0),
            model=graph.root,
            n=n_edges,
            s="" if n_edges == 1 else "s",
        )
    ]
    edge_svg = Markup(
        '<g class="edge {cls}"><title>{child} is a {relation} of {parent} ({how})</title>'
        '<polyline points="{points}" fill="none" marker-end="url(#arrow)"{dash}/>'
        '<rect class="label-bg" x="{bx:.1f}" y="{by:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
        'rx="3"/><text x="{tx:.1f}" y="{ty:.1f}" text-anchor="middle">{label}</text></g>'
    )
    for r in lay.routes:
        e, box = r.edge, r.box
        assert box is not None
        declared_only = e.kind == "declared"
        out.append(
            edge_svg.format(
                cls="declared" if declared_only else "detected",
                child=e.child,
                relation=e.relation,
                parent=e.parent,
                how=e.kind.replace("+", " + "),
                points=" ".join(f"{x:.1f},{y:.1f}" for x, y in r.points),
                dash=Markup(' stroke-dasharray="6 4"') if declared_only else "",
                bx=box[0],
                by=box[1],
                bw=box[2] - box[0],
                bh=box[3] - box[1],
                tx=(box[0] + box[2]) / 2,
                ty=box[3] - 4,
                label=r.label,
            )
        )
    node_svg = Markup(
        '<a href="{href}" class="node status-{status}{current}">'
        "<title>{model} ({status_text})</title>"
        '<rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="{h}" rx="6"/>'
        '<text x="{tx:.1f}" y="{y1:.1f}" class="name">{label}</text>'
        '<text x="{tx:.1f}" y="{y2:.1f}" class="status">{status_text}</text></a>'
    )
    for model, (x, y, _, _) in lay.nodes.items():
        out.append(
            node_svg.format(
                href=model_href(model),
                status=status[model],
                current=" current" if model == graph.root else "",
                model=model,
                status_text=status[model].replace("_", " "),
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
    if graph.truncated:
        out.append(
            Markup('<text x="{x}" y="{y:.0f}" class="more">{n} more not drawn</text>').format(
                x=PAD, y=lay.height + 12, n=graph.truncated
            )
        )
    out.append(Markup("</svg>"))
    return Markup("").join(out)
