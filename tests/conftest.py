"""Shared fixtures: tiny model families built once per run (and cached across runs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent

# Property tests explore new random inputs on every local run (that is how they find
# bugs); CI runs a fixed, derandomized set so a green main stays green.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _cache() -> Path:
    env = os.environ.get("WEIGHTWATCH_FIXTURE_CACHE")
    return Path(env) if env else REPO / ".cache" / "fixtures"


@pytest.fixture(scope="session")
def llama_family():  # type: ignore[no-untyped-def]
    from weightwatch.testing import build_family

    return build_family(arch="llama", seed=0, cache=_cache())


@pytest.fixture(scope="session")
def gpt2_family():  # type: ignore[no-untyped-def]
    from weightwatch.testing import build_family

    return build_family(arch="gpt2", seed=0, cache=_cache())


@pytest.fixture(scope="session")
def postgres_url():  # type: ignore[no-untyped-def]
    from tests.services import postgres

    with postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A registry database: SQLite, or a fresh database on the test PostgreSQL server."""
    from tests.services import database_url

    return database_url(request, tmp_path)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="Rewrite the golden JSON files (tests/test_goldens.py) from today's output; "
        "review the diff before committing.",
    )
