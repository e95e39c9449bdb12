"""JSON documents a command reads from a file the user names (an audit report, a signed
bundle, a weight diff): a missing, unreadable or malformed file is a usage error naming the
file (exit 2), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from weightwatch.errors import UsageError


def json_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; ``what`` names it in the error ("audit report")."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a JSON {what} ({exc})") from exc
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: not a JSON {what}")
    return doc
