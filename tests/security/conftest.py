"""A registry under attack: one model per access tier, an account per role, a watermark
deployment on the restricted model and a model card written by an attacker, served
over real HTTP on 127.0.0.1 (SQLite and PostgreSQL).

The server trusts ``X-Forwarded-For`` from 127.0.0.1 only (uvicorn's
``forwarded_allow_ips``, as behind a reverse proxy on the same host), which is how these
tests play clients at different addresses.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.registry.conftest import TIER_MODELS, register_tiers
from tests.services import STEADY_SIGNIN, database_url, serving
from weightwatch.registry import Registry
from weightwatch.registry.access import create_token, set_grant, set_model_access
from weightwatch.registry.accounts import create_user, set_namespace_owner

PASSWORD = "correct horse battery staple"
MODEL = {**TIER_MODELS, "hostile": "acme/hostile"}  # hostile: a card and gate labels by an attacker
ACCOUNTS = {  # name -> (role, organisations)
    "alice": ("user", ()),
    "granted": ("user", ()),
    "member": ("user", ("partner",)),
    "auditor": ("auditor", ()),
    "owner": ("publisher", ("acme",)),
    "rival": ("publisher", ("rival",)),
    "reviewer": ("reviewer", ()),
    "admin": ("admin", ()),
    "victim": ("user", ()),
    "sprayed": ("user", ()),
}
XSS = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
HOSTILE_CARD = f"""---
license: apache-2.0
extra_gated_prompt: "{XSS.replace('"', "'")}"
extra_gated_fields:
  "=HYPERLINK(\\"http://evil.example\\",\\"x\\")": text
  "<b onmouseover=alert(1)>Company</b>": text
---
# Hostile card {XSS}

[click](javascript:alert(1))
"""


@dataclass
class Site:
    url: str
    reg: Registry
    tokens: dict[str, str]
    root: Path
    key_id: str  # the restricted model's watermark key id
    db: str  # the registry's database URL

    def client(self, role: str | None = None, **kw: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)  # type: ignore[arg-type]

    def browser_session(self, user: str, client_ip: str) -> tuple[httpx.Client, str]:
        """A signed-in cookie session (from ``client_ip``) and its CSRF token."""
        http = httpx.Client(base_url=self.url, timeout=60, headers={"X-Forwarded-For": client_ip})
        r = http.post("/api/v1/login", json={"user": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return http, r.json()["csrf"]


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory, llama_family, gpt2_family) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    from weightwatch.server import create_app
    from weightwatch.watermark import MasterSecret
    from weightwatch.watermark.deployments import WatermarkDeployment

    tmp = tmp_path_factory.mktemp("security")
    db = database_url(request, tmp)
    reg = Registry.open(tmp / "reg", db, init=True)
    register_tiers(reg, tmp, llama_family, gpt2_family, reason="security test")
    hostile = tmp / "hostile"
    shutil.copytree(llama_family.pruned, hostile)
    (hostile / "README.md").write_text(HOSTILE_CARD)
    reg.register(hostile, MODEL["hostile"], access="gated")
    store = reg.store
    for name, (role, orgs) in ACCOUNTS.items():
        create_user(store, name, PASSWORD, role=role, orgs=orgs)
    set_namespace_owner(store, "acme", "acme")
    set_model_access(store, MODEL["restricted"], allowed_orgs=["partner"])
    set_grant(store, MODEL["gated"], "granted", "accepted", actor="admin")
    master = MasterSecret.generate()
    master.save(tmp / "master.json")
    dep = WatermarkDeployment.create(master, "secret", scheme="kgw", gamma=0.25, delta=4.0)
    reg.add_watermark(MODEL["restricted"], dep)
    tokens = {name: create_token(store, name) for name in ACCOUNTS}
    app = create_app(tmp / "reg", db, watermark_master=tmp / "master.json", signin=STEADY_SIGNIN)
    with serving(app, forwarded_allow_ips="127.0.0.1") as url:
        yield Site(url, reg, tokens, tmp / "reg", dep.key_id, db)
    reg.close()
