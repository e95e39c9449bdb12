"""Findings 11 and 12, and formula injection through the access-report CSV."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest

from tests.security.conftest import MODEL, Site
from weightwatch.cli import main
from weightwatch.registry import Registry
from weightwatch.registry.accounts import create_user

pytestmark = pytest.mark.slow


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_registry_files_are_private_to_its_account(site: Site) -> None:
    """Finding 11: the database holds password hashes and session CSRF tokens, the blob
    store restricted and withdrawn weights: neither is readable by other accounts."""
    root = site.root
    assert _mode(root) & 0o077 == 0, oct(_mode(root))
    assert _mode(root / "blobs") & 0o077 == 0
    if (root / "registry.db").exists():
        assert _mode(root / "registry.db") & 0o077 == 0, oct(_mode(root / "registry.db"))
    blobs = [p for p in (root / "blobs").rglob("*") if p.is_file()]
    assert blobs and all(_mode(p) & 0o077 == 0 for p in blobs)


def test_an_existing_world_readable_registry_is_made_private_on_open(tmp_path: Path) -> None:
    reg = Registry.open(tmp_path / "reg", init=True)
    reg.close()
    (tmp_path / "reg").chmod(0o755)
    (tmp_path / "reg" / "registry.db").chmod(0o644)
    Registry.open(tmp_path / "reg").close()
    assert _mode(tmp_path / "reg") == 0o700
    assert _mode(tmp_path / "reg" / "registry.db") == 0o600


def test_reasons_and_allowed_orgs_are_bounded(site: Site) -> None:
    """Finding 11: no unbounded strings in decisions and access settings."""
    with site.client("admin") as http:
        r = http.post(
            f"/api/v1/models/{MODEL['gated']}/access-requests/alice",
            json={"state": "rejected", "reason": "x" * 5000},
        )
        assert r.status_code in (400, 422), r.text
        r = http.put(
            f"/api/v1/models/{MODEL['restricted']}/access", json={"allowed_orgs": ["o" * 5000]}
        )
        assert r.status_code in (400, 422), r.text
        r = http.put(
            f"/api/v1/models/{MODEL['restricted']}/access",
            json={"allowed_orgs": [f"org{i}" for i in range(500)]},
        )
        assert r.status_code in (400, 422), r.text
        r = http.post(
            f"/api/v1/models/{MODEL['public']}/versions/1/takedown", json={"reason": "x" * 5000}
        )
        assert r.status_code in (400, 422), r.text


def _cli(root: Path, *args: str) -> int:
    return main(["registry", *args, "--registry", str(root)])


def test_cli_admin_commands_refuse_typos_and_escalation(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Finding 12: each fails with a clear error and exit 2, and changes nothing."""
    root = tmp_path / "reg"
    reg = Registry.open(root, init=True)
    create_user(reg.store, "plain", "password-1", role="user")
    create_user(reg.store, "pub", "password-1", role="publisher", orgs=("acme",))
    reg.close()
    cases = [
        (("token", "--user", "ghost", "--role", "admin"), "no user 'ghost'"),
        (("token", "--user", "plain", "--role", "admin"), "has the role user"),
        (("token", "--user", "plain", "--org", "acme"), "not a member"),
        (("grant", "acme/x", "--user", "nosuch"), "no user 'nosuch'"),
        (("namespace", "Bad NS", "--org", "acme"), "namespace 'Bad NS'"),
        (("namespace", "acme", "--org", "nosuchorg"), "no organisation 'nosuchorg'"),
    ]
    for args, message in cases:
        capsys.readouterr()
        assert _cli(root, *args) == 2, args
        assert message in capsys.readouterr().err, args
    # the right spellings work
    assert _cli(root, "token", "--user", "plain") == 0
    assert _cli(root, "token", "--user", "pub", "--role", "publisher", "--org", "acme") == 0
    assert _cli(root, "namespace", "acme", "--org", "acme") == 0


def test_access_report_neutralises_formulas(site: Site) -> None:
    """Also settled: the hostile gate labels (publisher-set) cannot become formulas."""
    with site.client("admin") as http:
        r = http.get(f"/api/v1/models/{MODEL['hostile']}/access-report.csv")
    assert r.status_code == 200, r.text
    header = next(csv.reader(io.StringIO(r.text)))
    assert header[6:] and all(not c.startswith(("=", "+", "-", "@")) for c in header)
