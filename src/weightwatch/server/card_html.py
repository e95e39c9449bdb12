"""A model card as the Hub shows it: the YAML front matter as a table, the body rendered
from Markdown (CommonMark with tables and strikethrough, by markdown-it-py) and then
sanitized (nh3, the Ammonia sanitizer).

The card is uploaded data, so the rendering is closed twice over: markdown-it-py runs
with raw HTML off (``<script>`` in a card is shown as text) and refuses ``javascript:``
and similar links; nh3 then keeps only the tags and attributes listed here, links only
to http(s), mail and relative addresses (with ``rel="nofollow noopener noreferrer"``),
and never an event handler or a style. Images are not loaded at all — a remote image is
a tracking pixel — each is shown as a link naming its alt text. Card headings start at
``<h3>`` so they sit under the page's own "Model card" heading.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

from weightwatch.artifacts.hfrepo import parse_card

VALUE_CHARS = 300  # of one front-matter value shown
TAGS = {
    "a", "blockquote", "br", "code", "del", "div", "em", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "div": {"class"},
    "span": {"class"},
    "td": {"style"},
    "th": {"style"},
    "ol": {"start"},
}
# markdown-it writes column alignment as a style; only these values survive
ALIGN_STYLES = {"text-align:left", "text-align:center", "text-align:right"}


@dataclass(frozen=True)
class Card:
    """What the page shows of a card: front matter rows and the sanitized body."""

    metadata: list[tuple[str, str]]
    body: Markup
    problems: list[str]


def _heading(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tok = tokens[idx]
    level = min(6, int(tok.tag[1]) + 2)
    return f"<{'/' if tok.nesting < 0 else ''}h{level}>"


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tok = tokens[idx]
    alt = self.renderInlineAsText(tok.children or [], options, env) or "image"
    src = str(tok.attrGet("src") or "")
    text = Markup('<span class="card-image">[image: {}]</span>').format(alt)
    if src.startswith(("https://", "http://")):
        return str(Markup('<a href="{}">{}</a>').format(src, text))
    return str(text)


def _table_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return '<div class="md-table"><table>'


def _table_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "</table></div>"


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    for name, rule in (
        ("heading_open", _heading),
        ("heading_close", _heading),
        ("image", _image),
        ("table_open", _table_open),
        ("table_close", _table_close),
    ):
        md.add_render_rule(name, rule)
    return md


_MD = _parser()


def _keep_style(tag: str, attr: str, value: str) -> str | None:
    if attr == "style":
        return value if value.replace(" ", "").rstrip(";") in ALIGN_STYLES else None
    if attr == "class":
        return value if value in {"md-table", "card-image"} else None
    return value


def sanitize(html: str) -> str:
    """Only the listed tags and attributes; links to http(s), mail and relative URLs."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=_keep_style,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        text = ", ".join(_value(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def render(text: str) -> Card:
    """The card ``text`` (a README.md) as front-matter rows and safe HTML."""
    problems: list[str] = []
    info = parse_card(text, problems)
    rows = [(str(k), _value(v)) for k, v in info.front_matter.items()]
    safe = sanitize(_MD.render(info.body))  # raw HTML off, then nh3: safe to mark
    return Card(rows, Markup(safe), problems)  # noqa: S704
