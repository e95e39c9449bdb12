"""The tiny refusing chat model, shared with the audit tests (built once, cached)."""

from __future__ import annotations

from tests.audit.conftest import chat_models

__all__ = ["chat_models"]
