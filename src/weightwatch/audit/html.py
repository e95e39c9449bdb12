"""A single-file HTML report: tables, the many-shot curve as inline SVG, no external assets.

Rendered with Jinja2 (autoescape on: replies are the tested model's text and may hold
markup), imported only when a report is rendered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from weightwatch.audit.curve import ManyShotCurve
from weightwatch.audit.derivative import DerivativeReport
from weightwatch.audit.report import AuditReport

WIDTH, HEIGHT, PAD = 560, 300, 48


@dataclass(frozen=True)
class CurvePlot:
    """Pixel coordinates of the many-shot curve (log2 k across, ASR up)."""

    points: tuple[tuple[float, float, float, float, int, float], ...]  # x, y, y_low, y_high, k, asr
    fit_path: str | None
    x_ticks: tuple[tuple[float, int], ...]
    y_ticks: tuple[tuple[float, int], ...]
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD


def plot_curve(curve: ManyShotCurve) -> CurvePlot:
    ks = [p.k for p in curve.points]
    lo, hi = math.log2(min(ks)), math.log2(max(ks))
    span = hi - lo or 1.0

    def x(k: float) -> float:
        return round(PAD + (math.log2(k) - lo) / span * (WIDTH - 2 * PAD), 1)

    def y(rate: float) -> float:
        return round(HEIGHT - PAD - rate * (HEIGHT - 2 * PAD), 1)

    points = tuple(
        (
            x(p.k),
            y(p.asr.estimate),
            y(p.asr.interval.low),
            y(p.asr.interval.high),
            p.k,
            p.asr.estimate,
        )
        for p in curve.points
    )
    fit_path = None
    if curve.fit is not None:
        steps = 60
        coords = [2 ** (lo + i / steps * span) for i in range(steps + 1)]
        fit_path = "M" + " L".join(f"{x(k)},{y(curve.fit.predict(k))}" for k in coords)
    return CurvePlot(
        points=points,
        fit_path=fit_path,
        x_ticks=tuple((x(k), k) for k in ks),
        y_ticks=tuple((y(v / 100), v) for v in (0, 25, 50, 75, 100)),
    )


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f}%"
    env.filters["p"] = lambda v: f"{v:.3g}"
    return env


def _template_source(name: str) -> str:
    return resources.files("weightwatch.audit").joinpath("templates", name).read_text("utf-8")


def render_html(report: AuditReport | DerivativeReport) -> str:
    """The report as one self-contained HTML document."""
    env = _environment()
    if isinstance(report, DerivativeReport):
        audits = [("base", report.base), ("derivative", report.derivative)]
        comparison = report
    else:
        audits = [("audit", report)]
        comparison = None
    plots = {
        name: plot_curve(audit.many_shot) if audit.many_shot else None for name, audit in audits
    }
    html: str = env.get_template("report.html.j2").render(
        audits=audits, comparison=comparison, plots=plots
    )
    return html
