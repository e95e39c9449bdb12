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
def ray_address(s3_env):  # type: ignore[no-untyped-def]
    """One local Ray instance (2 CPUs) for the whole run, which every Ray test and the
    server processes they start join. Started once: a loaded machine may take minutes to
    bring a raylet up, so ``raystart.connect`` retries. No auth token (127.0.0.1 only),
    so processes the tests start can join it. Its workers inherit the environment it was
    started with, so it is started with the test S3 server's variables (as a production
    Ray node is started with the store's)."""
    ray = pytest.importorskip("ray")
    from weightwatch.registry import raystart

    os.environ["RAY_AUTH_MODE"] = "disabled"
    for k, v in raystart.START_TIMEOUTS.items():
        os.environ.setdefault(k, v)
    saved = {k: os.environ.get(k) for k in s3_env}
    os.environ.update(s3_env)
    try:
        address = raystart.connect(num_cpus=2, fresh=True, attempts=5)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield address
    ray.shutdown()


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


def pytest_configure(config: pytest.Config) -> None:
    """`make test` (which requires every service) stops at once, naming the folder, when the
    temporary folder cannot hold the run; a run of a few tests is not held to that."""
    if os.environ.get("WEIGHTWATCH_REQUIRE_SERVICES") != "1":
        return
    import tempfile

    from tests.services import free_space_problem

    problem = free_space_problem(Path(tempfile.gettempdir()))
    if problem:
        raise pytest.UsageError(problem)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="Rewrite the golden JSON files (tests/test_goldens.py) from today's output; "
        "review the diff before committing.",
    )


@pytest.fixture(scope="session")
def s3_env():  # type: ignore[no-untyped-def]
    """A real S3 server (SeaweedFS) for this test session: the AWS variables reaching it."""
    from tests.services import seaweedfs

    with seaweedfs() as env:
        yield env


@pytest.fixture
def s3_blobs(s3_env, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """An ``s3://`` blob store URL of a prefix of its own on the test S3 server, with the
    client variables set for this test (and the subprocesses it starts)."""
    import uuid

    for k, v in s3_env.items():
        monkeypatch.setenv(k, v)
    return f"s3://{s3_env['WEIGHTWATCH_TEST_BUCKET']}/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _blob_backend(request):  # type: ignore[no-untyped-def]
    """``WEIGHTWATCH_TEST_BLOBS=s3`` runs every test's registries on the S3 backend."""
    if os.environ.get("WEIGHTWATCH_TEST_BLOBS") != "s3":
        yield
        return
    url = request.getfixturevalue("s3_blobs")
    mp = request.getfixturevalue("monkeypatch")
    mp.setenv("WEIGHTWATCH_BLOBS_URL", url)
    yield
