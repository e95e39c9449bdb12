"""Findings 3 and 5: bounded request bodies, authentication before parsing, and no
server error from numbers too large for the database."""

from __future__ import annotations

import pytest

from tests.security.conftest import Site

pytestmark = pytest.mark.slow

BIG = 8 << 20  # well over the 1 MiB (4 MiB for detection) bodies the routes accept


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [
        ("/api/v1/login", None, 413),
        ("/api/v1/users", None, 401),  # anonymous: refused before the body is read
        ("/api/v1/users", "admin", 413),
        ("/api/watermark/detect", None, 401),
        ("/api/v1/models/acme/gated/access-requests", "alice", 413),
        ("/login", None, 413),
    ],
)
def test_oversized_bodies_are_refused_unread(
    site: Site, path: str, role: str | None, status: int
) -> None:
    body = b'{"user": "' + b"a" * BIG + b'"}'
    with site.client(role) as http:
        r = http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == status, (path, r.status_code, r.text[:200])

        def chunks():  # no Content-Length: counted while read
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        r = http.post(path, content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == status, (path, r.status_code, r.text[:200])


def test_every_api_write_authenticates_before_parsing(site: Site) -> None:
    """Anonymous (or bad-token) writes to every API operation but sign-in and sign-out are
    refused with 401 before their body is parsed: broken JSON never gets as far as 422."""
    with site.client() as http:
        paths = http.get("/openapi.json").json()["paths"]
        writes = [
            (method, path)
            for path, ops in paths.items()
            for method in ops
            if method in ("post", "put", "patch", "delete")
            and path.startswith("/api/")
            and path not in ("/api/v1/login", "/api/v1/logout")
        ]
        assert len(writes) >= 10
        for method, path in writes:
            url = path.replace("{", "").replace("}", "")  # any name will do: never reached
            for headers in ({}, {"Authorization": "Bearer ww_not-a-token"}):
                r = http.request(
                    method.upper(),
                    url,
                    content=b"{not json",
                    headers={"Content-Type": "application/json", **headers},
                )
                assert r.status_code == 401, (method, path, headers, r.status_code, r.text[:200])


def test_watermark_detection_authenticates_before_parsing(site: Site) -> None:
    with site.client() as http:
        r = http.post(
            "/api/watermark/detect",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 401
    with site.client("alice") as http:
        r = http.post(
            "/api/watermark/detect",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 422 and "error" in r.json()


HUGE = [
    "/api/v1/log/entries?start=" + str(10**20),
    "/api/v1/log/entries?start=0&end=" + str(10**20),
    "/api/v1/log/entries/" + str(10**20),
    "/api/v1/log/entries/" + str(10**20) + "/proof",
    "/api/v1/log/consistency?first=" + str(10**20),
    "/log/" + str(10**20),
    "/models/acme/public?v=" + str(10**30),
    "/api/v1/models/acme/public/versions/" + str(10**30),
    "/api/v1/models/acme/public/versions/" + str(10**30) + "/files",
    "/api/v1/models/acme/public/versions/" + str(10**30) + "/attestation",
    "/api/v1/models/acme/public/versions/" + str(10**30) + "/decisions",
    "/api/v1/models?offset=" + str(10**30),
    "/api/v1/audit/events?before=" + str(10**30),
    "/api/v1/audit/downloads?before=" + str(10**30),
]


@pytest.mark.parametrize("path", HUGE)
def test_huge_integers_are_not_server_errors(site: Site, path: str) -> None:
    with site.client("admin") as http:
        r = http.get(path)
    assert r.status_code in (400, 404, 422), (path, r.status_code, r.text[:200])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/login", {"user": "a\u0000b", "password": "whatever-it-is"}),
        ("POST", "/api/watermark/detect", {"token_ids": [1], "key_ids": ["ab\u0000"]}),
        ("GET", "/api/v1/models/acme/pub%00lic", None),
        ("GET", "/api/v1/models?q=%00", None),
    ],
)
def test_nul_characters_are_refused_not_server_errors(
    site: Site, method: str, path: str, body: object
) -> None:
    """Found by the fuzzing on PostgreSQL (which refuses NUL in text): a clear 400."""
    with site.client("admin") as http:
        r = http.request(method, path, json=body)
    assert r.status_code == 400 and "NUL character" in r.json()["error"], r.text
