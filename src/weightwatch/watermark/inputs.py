"""Reading what to test: token ids (JSON) or text, and scheme parameters given as text.

Token ids are the reliable input (a decode/encode round trip can re-segment text); a
``Generation`` file written by ``weightwatch watermark generate`` also names its scheme
and parameters, so detection needs no flags to match them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weightwatch.errors import ArtifactError, UsageError

MAX_INPUT_BYTES = 64 * 2**20


@dataclass(frozen=True)
class DetectionInput:
    """Either ``token_ids`` or ``text``; ``scheme``/``params`` when the file named them."""

    token_ids: list[int] | None = None
    text: str | None = None
    scheme: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _ids(value: object, path: Path) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in value
    ):
        raise ArtifactError(path, "token_ids must be a JSON list of integers")
    return list(value)


def parse_input(raw: str, *, path: Path) -> DetectionInput:
    """JSON list of ids, a JSON object with ``token_ids`` (or ``text``), or plain text."""
    stripped = raw.lstrip()
    if not stripped.startswith(("[", "{")):
        return DetectionInput(text=raw)
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError:
        return DetectionInput(text=raw)  # text that happens to start with a bracket
    if isinstance(doc, list):
        return DetectionInput(token_ids=_ids(doc, path))
    if not isinstance(doc, dict):
        raise ArtifactError(path, "expected a JSON list of token ids or an object")
    scheme = doc.get("scheme")
    params = doc.get("params") or {}
    if scheme is not None and not isinstance(scheme, str):
        raise ArtifactError(path, "scheme must be a string")
    if not isinstance(params, dict):
        raise ArtifactError(path, "params must be an object")
    if "token_ids" in doc:
        return DetectionInput(token_ids=_ids(doc["token_ids"], path), scheme=scheme, params=params)
    if isinstance(doc.get("text"), str):
        return DetectionInput(text=doc["text"], scheme=scheme, params=params)
    raise ArtifactError(path, "a JSON object to test needs token_ids or text")


def read_input(path: str | Path) -> DetectionInput:
    """``parse_input`` on a file (``-`` is not handled here: the CLI reads stdin)."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_INPUT_BYTES:
            raise ArtifactError(p, f"larger than {MAX_INPUT_BYTES // 2**20} MiB")
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(p, f"cannot read: {exc}") from exc
    return parse_input(raw, path=p)


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["gamma=0.5", "seeding=selfhash"]`` -> typed values (int, float, else string)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"parameter {item!r} is not NAME=VALUE")
        parsed: Any = value
        for cast in (int, float):
            try:
                parsed = cast(value)
                break
            except ValueError:
                continue
        out[name.strip()] = parsed
    return out


__all__ = ["DetectionInput", "parse_input", "parse_params", "read_input"]
