"""The two frozen text domains the tiny models are trained on (see data/SOURCE.md)."""

from __future__ import annotations

from importlib import resources


def text(domain: str) -> str:
    """Domain "a" (Python docstrings) or "b" (licence texts)."""
    if domain not in ("a", "b"):
        raise ValueError(f"unknown corpus domain {domain!r}")
    return (resources.files("weightwatch.testing") / "data" / f"corpus_{domain}.txt").read_text(
        encoding="utf-8"
    )
