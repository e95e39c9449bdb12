"""The lineage picture's geometry, read back from the SVG: every relation label sits on
its own edge, clear of every other edge, label and node; the whole ancestry is drawn;
strings from uploads are escaped."""

from __future__ import annotations

import itertools
import random
import xml.etree.ElementTree as ET

from weightwatch.registry.lineage_graph import GraphEdge, GraphNode, LineageGraph
from weightwatch.server import lineage_svg

SVG = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]


def graph(root: str, edges: list[tuple[str, str, str | None, str | None]]) -> LineageGraph:
    names = [root, *sorted({m for p, c, _, _ in edges for m in (p, c)} - {root})]
    return LineageGraph(
        root=root,
        nodes=[GraphNode(model=m, status="published") for m in names],
        edges=[GraphEdge(parent=p, child=c, declared=d, detected=t) for p, c, d, t in edges],
        truncated=0,
    )


def family() -> LineageGraph:
    """Two generations of ancestors (one a declared merge of two parents), a parent with
    five children, grandchildren, and an edge that skips a generation."""
    return graph(
        "org/mid@1",
        [
            ("org/root@1", "org/mid@1", None, "finetune"),
            ("org/other@1", "org/mid@1", "merge", "finetune"),  # declared merge
            ("org/grandroot@1", "org/root@1", "finetune", None),
            *((("org/mid@1", f"org/kid{i}@1", None, rel)) for i, rel in enumerate(
                ["finetune", "quantized", "adapter", "merge", "finetune"])),
            ("org/kid0@1", "org/grand0@1", None, "quantized"),
            ("org/kid0@1", "org/grand1@1", "finetune", "finetune"),
            ("org/grandroot@1", "org/kid3@1", None, "merge"),  # spans three rows
        ],
    )  # fmt: skip


def _points(edge: ET.Element) -> list[tuple[float, float]]:
    line = edge.find(f"{SVG}polyline")
    assert line is not None, "each edge is a polyline"
    return [tuple(map(float, p.split(","))) for p in (line.get("points") or "").split()]  # type: ignore[misc]


def _label_box(edge: ET.Element) -> Box:
    r = edge.find(f"{SVG}rect")
    assert r is not None
    x, y, w, h = (float(r.get(k) or 0) for k in ("x", "y", "width", "height"))
    return (x, y, x + w, y + h)


def _dist(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / ((dx * dx + dy * dy) or 1)))
    return float(((ax + t * dx - px) ** 2 + (ay + t * dy - py) ** 2) ** 0.5)


def _meets(points: list[tuple[float, float]], box: Box) -> bool:
    """Whether a polyline passes through a box (sampled finely)."""
    for a, b in itertools.pairwise(points):
        for i in range(201):
            x, y = a[0] + (b[0] - a[0]) * i / 200, a[1] + (b[1] - a[1]) * i / 200
            if box[0] < x < box[2] and box[1] < y < box[3]:
                return True
    return False


def check_labels(picture: str) -> list[ET.Element]:
    """Assert that every label is centred on its own edge and meets no other edge, label
    or node; returns the edges."""
    svg = ET.fromstring(picture)
    edges = svg.findall(f"{SVG}g")
    nodes = [
        tuple(float(r.get(k) or 0) for k in ("x", "y", "width", "height"))
        for r in svg.iter(f"{SVG}rect")
        if r.get("class") != "label-bg"
    ]
    node_boxes = [(x, y, x + w, y + h) for x, y, w, h in nodes]
    boxes = [_label_box(e) for e in edges]
    for i, edge in enumerate(edges):
        pts, box = _points(edge), boxes[i]
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        assert min(_dist(centre, a, b) for a, b in itertools.pairwise(pts)) < 0.5
        for j, other in enumerate(edges):
            if j != i:
                assert not _meets(_points(other), box), (i, j)
                b = boxes[j]
                assert not (box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3])
        assert not any(
            box[0] < n[2] and n[0] < box[2] and box[1] < n[3] and n[1] < box[3] for n in node_boxes
        )
    return edges


def test_every_label_sits_on_its_own_edge_and_nowhere_else():
    edges = check_labels(str(lineage_svg.render(family())))
    assert len(edges) == 11
    # edges leaving one parent start at different points (they do not pile up)
    starts = [_points(e)[0] for e in edges if "of org/mid@1" in (e.findtext(f"{SVG}title") or "")]
    assert len(starts) == 5 and len(set(starts)) == 5


def test_whole_ancestry_and_both_relations_are_drawn():
    svg = str(lineage_svg.render(family()))
    for model in ("org/grandroot@1", "org/root@1", "org/other@1", "org/grand1@1"):
        assert f">{model}<" in svg
    # a card's declared merge the weights see as a fine-tune says both, never just one
    assert "merge (declared) · finetune (detected)" in svg
    rows = lineage_svg.layers(family())
    assert rows["org/grandroot@1"] < rows["org/root@1"] < rows["org/mid@1"] < rows["org/kid0@1"]


def test_picture_escapes_links_and_prunes():
    hostile = "fine<script>tune"
    g = graph(
        "org/child@2",
        [
            ("up/root@3", "org/child@2", None, "finetune"),
            ("org/child@2", "org/grand@1", hostile, None),
            ("org/child@2", "x/hidden@1", None, "merge"),
            ("x/hidden@1", "x/below@1", None, "quantized"),
        ],
    )
    svg = str(lineage_svg.render(g.prune(lambda n: not n.model.startswith("x/"))))
    assert "<script>" not in svg and "fine&lt;script&gt;tune" in svg
    assert 'href="/models/org/child?v=2"' in svg and 'href="/models/up/root?v=3"' in svg
    assert 'href="/models/org/grand?v=1"' in svg and "x/hidden" not in svg and "x/below" not in svg
    assert svg.count('stroke-dasharray="6 4"') == 1  # only the declared-only edge is dashed
    ET.fromstring(svg)  # well-formed


def test_labels_stay_on_their_edges_in_random_families():
    rels = ["finetune", "quantized", "adapter", "merge", None]
    for seed in range(40):
        rnd = random.Random(seed)
        n = rnd.randint(2, 12)
        names = [f"org/m{i}@1" for i in range(n)]
        edges = []
        for i in range(1, n):
            for p in rnd.sample(range(i), min(i, rnd.choice([1, 1, 1, 2]))):
                declared = rnd.choice(rels)
                detected = rnd.choice(rels[:4]) if declared is None or rnd.random() < 0.5 else None
                edges.append((names[p], names[i], declared, detected))
        g = graph(names[rnd.randrange(n)], edges)
        assert lineage_svg.layout(g).unplaced == 0, seed
        assert len(check_labels(str(lineage_svg.render(g)))) == len(edges), seed
