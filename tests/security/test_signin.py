"""Findings 1 and 2: the sign-in throttle holds under concurrency, limits per (account,
client) and per client, and cannot be used to lock the owner out from elsewhere."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.security.conftest import PASSWORD, Site
from tests.services import serving
from weightwatch.registry.signin import DEFAULT_POLICY

pytestmark = pytest.mark.slow


def _attempt(url: str, user: str, password: str, client_ip: str) -> int:
    r = httpx.post(
        f"{url}/api/v1/login",
        json={"user": user, "password": password},
        headers={"X-Forwarded-For": client_ip},
        timeout=120,
    )
    return r.status_code


def test_parallel_guesses_get_no_more_than_the_policy(site: Site) -> None:
    """Finding 1: 200 parallel wrong passwords for one account from one client yield at
    most ``per_account_client`` password checks (401); every other answer is 429."""
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(
            pool.map(
                lambda _: _attempt(site.url, "victim", "wrong guess", "203.0.113.7"), range(200)
            )
        )
    assert set(codes) <= {401, 429}, codes
    assert codes.count(401) <= DEFAULT_POLICY.per_account_client, codes.count(401)
    assert codes.count(429) >= 200 - DEFAULT_POLICY.per_account_client
    # the same attacker, right after: once the pair's limit is reached, refused for the whole
    # window even with the right password; short of the limit, the pair is still in the
    # site's (steady, 60 s) backoff.
    assert _attempt(site.url, "victim", PASSWORD, "203.0.113.7") == 429


@pytest.fixture
def no_backoff(site: Site) -> Iterator[str]:
    """The site's registry served with no backoff, so a test reaches the hard limit of
    ``per_account_client`` failures at once instead of waiting out 1+2+4+8+16 s (or
    outliving the backoff on a slow machine and counting wrongly, as CI once did)."""
    from weightwatch.server import create_app

    policy = dataclasses.replace(DEFAULT_POLICY, backoff=0.0)
    with serving(create_app(site.root, site.db, signin=policy)) as url:
        yield url


def test_owner_is_not_locked_out_from_another_client(no_backoff: str) -> None:
    """Finding 2: after an attacker exhausts the throttle, the owner signs in from her
    own address at once (the limit is per account *and* client, never per account)."""
    for user, attacker, owner in (
        ("victim", "198.51.100.66", "192.0.2.10"),
        ("admin", "198.51.100.67", "192.0.2.11"),  # admins too
    ):
        codes = [
            _attempt(no_backoff, user, "wrong guess", attacker)
            for _ in range(DEFAULT_POLICY.per_account_client)
        ]
        assert codes == [401] * DEFAULT_POLICY.per_account_client
        # exhausted: refused for the whole window, even with the right password
        assert _attempt(no_backoff, user, "wrong guess", attacker) == 429
        assert _attempt(no_backoff, user, PASSWORD, attacker) == 429
        assert _attempt(no_backoff, user, PASSWORD, owner) == 200


def test_spraying_one_password_across_accounts_is_limited_per_client(site: Site) -> None:
    """Finding 2 (spraying; sign-in cost): one client trying one password on many
    accounts is stopped after ``per_client`` failures, whoever the accounts are."""
    names = [f"nobody{i}" for i in range(DEFAULT_POLICY.per_client + 5)]
    codes = [_attempt(site.url, n, "Summer2026!", "203.0.113.99") for n in names]
    assert codes.count(401) == DEFAULT_POLICY.per_client, codes
    assert codes[-1] == 429
    # a real account from that client is refused too; from elsewhere it is fine
    assert _attempt(site.url, "sprayed", PASSWORD, "203.0.113.99") == 429
    assert _attempt(site.url, "sprayed", PASSWORD, "192.0.2.12") == 200


def test_backoff_says_how_long_to_wait(site: Site) -> None:
    with httpx.Client(base_url=site.url, headers={"X-Forwarded-For": "203.0.113.50"}) as http:
        for _ in range(DEFAULT_POLICY.free):
            r = http.post("/api/v1/login", json={"user": "alice", "password": "nope nope"})
            assert r.status_code == 401
        r = http.post("/api/v1/login", json={"user": "alice", "password": "nope nope"})
        assert r.status_code == 429
        wait = int(r.headers["retry-after"])
        assert 1 <= wait <= DEFAULT_POLICY.window.total_seconds()
        assert "try again in" in r.json()["error"]
