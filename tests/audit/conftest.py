"""The tiny chat model and its derivatives, built once per run (and cached across runs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from weightwatch.testing.chat import ChatModels

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chat_models() -> ChatModels:
    from weightwatch.testing.chat import build_chat_models

    env = os.environ.get("WEIGHTWATCH_FIXTURE_CACHE")
    return build_chat_models(cache=Path(env) if env else REPO / ".cache" / "fixtures")
