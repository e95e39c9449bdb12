"""Stored reports and decision reasons name other versions (a detected parent, a licence's
source, a candidate the lineage step weighed). A caller who may see the derivative but
not its parent must not learn the parent's name from them: the parent's label is
replaced, exactly as the lineage edges of the version view leave it out. The attack: a
publisher uploads copies of weights to learn the names of models hidden from them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.services import serving
from weightwatch.registry import Registry
from weightwatch.registry.access import create_token, set_model_access
from weightwatch.registry.accounts import create_user, set_namespace_owner
from weightwatch.server.app import create_app

pytestmark = pytest.mark.slow

SECRET = "acme/secret-base"


def test_reports_never_name_a_parent_the_caller_cannot_see(tmp_path: Path, llama_family) -> None:  # type: ignore[no-untyped-def]
    reg = Registry.open(tmp_path / "reg", init=True)
    reg.register(llama_family.base, SECRET, access="restricted")
    set_model_access(reg.store, SECRET, allowed_orgs=["partner"])
    create_user(reg.store, "bob", "correct horse battery staple", role="publisher", orgs=("bob",))
    set_namespace_owner(reg.store, "bob", "bob")
    token = create_token(reg.store, "bob")
    reg.register(llama_family.finetune, "bob/finetune")
    vid = reg.version_id("bob/finetune")
    stored = json.dumps([reg.report(vid, k) for k in ("facts", "lineage", "decision")])
    assert SECRET in stored  # the registry itself knows the parent
    base = "/api/v1/models/bob/finetune/versions/1"
    bearer = {"Authorization": f"Bearer {token}"}
    with (
        serving(create_app(tmp_path / "reg")) as url,
        httpx.Client(base_url=url, headers=bearer) as http,
    ):
        assert http.get(f"{base}/files").status_code == 200  # bob sees his own upload
        for kind in ("facts", "lineage", "decision"):
            r = http.get(f"{base}/reports/{kind}")
            assert r.status_code == 200, kind
            assert SECRET not in r.text, kind
        view = http.get(base)
        assert view.status_code == 200 and SECRET not in view.text
        assert http.get("/api/v1/models/acme/secret-base").status_code == 404
    reg.close()
