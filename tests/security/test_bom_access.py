"""The AI-BOM routes leak nothing the file list would not: for every tier and every
kind of caller, ``…/bom`` and ``…/bom/signature`` answer exactly as ``…/files`` does
(404 for what the caller may not know exists, 403 while taken down); a bad format is
a 422, never a 500; the signature covers the very bytes served."""

from __future__ import annotations

import json

import pytest

from tests.security.conftest import MODEL, Site
from weightwatch.attest.keys import KeyVerifier
from weightwatch.bom import validate, verify_bom

pytestmark = pytest.mark.slow

ROLES = (None, "alice", "granted", "member", "owner", "admin")


@pytest.mark.parametrize("tier", ["public", "gated", "restricted", "quarantined", "taken_down"])
def test_bom_is_seen_exactly_like_the_files(site: Site, tier: str) -> None:
    base = f"/api/v1/models/{MODEL[tier]}/versions/1"
    for role in ROLES:
        with site.client(role) as http:
            files = http.get(f"{base}/files")
            for fmt in ("cyclonedx", "spdx"):
                bom = http.get(f"{base}/bom", params={"format": fmt})
                sig = http.get(f"{base}/bom/signature", params={"format": fmt})
                assert bom.status_code == sig.status_code == files.status_code, (tier, role)
                if bom.status_code != 200:
                    assert bom.json() == files.json()  # the same answer, word for word
                    continue
                validate(bom.json(), fmt)
                signer = site.reg.store.signer
                verify_bom(bom.content, sig.json(), KeyVerifier(signer.public_key, signer.key_id))


def test_missing_model_and_bad_format(site: Site) -> None:
    with site.client("admin") as http:
        nowhere = http.get("/api/v1/models/acme/nowhere/versions/1/bom")
        bad = http.get(f"/api/v1/models/{MODEL['public']}/versions/1/bom?format=xml")
        huge = http.get(f"/api/v1/models/{MODEL['public']}/versions/{10**30}/bom")
    assert nowhere.status_code == 404
    assert bad.status_code == 422 and "format" in json.dumps(bad.json())
    assert huge.status_code in (404, 422)
