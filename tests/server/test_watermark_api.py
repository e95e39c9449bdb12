"""The detection endpoint: signed-in callers only, rate-limited, by registered key id."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.services import serving
from tests.watermark.helpers import simulate
from weightwatch.registry import Registry
from weightwatch.registry.access import create_token
from weightwatch.registry.accounts import create_user
from weightwatch.watermark import MasterSecret
from weightwatch.watermark.deployments import WatermarkDeployment

pytestmark = pytest.mark.slow


def test_detection_endpoint(tmp_path, llama_family):
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True)
    reg.register(llama_family.base, "org/base")
    master = MasterSecret.generate()
    master.save(tmp_path / "master.json")
    dep = WatermarkDeployment.create(master, "chat", scheme="kgw", gamma=0.25, delta=4.0)
    reg.add_watermark("org/base", dep)
    create_user(reg.store, "analyst", "analyst-password", role="auditor")
    token = create_token(reg.store, "analyst", role="auditor")
    app = create_app(tmp_path / "reg", watermark_master=tmp_path / "master.json")
    with serving(app) as base:
        url = f"{base}/api/watermark/detect"
        rng = np.random.default_rng(0)
        marked = simulate(
            dep.build_scheme(), dep.key(master), batch=1, steps=200, vocab=1000, scale=2.0, rng=rng
        )[0]
        human = rng.integers(0, 1000, size=200)
        body = {"token_ids": marked.tolist(), "key_ids": [dep.key_id]}
        assert httpx.post(url, json=body).status_code == 401  # anonymous
        assert (
            httpx.post(url, json=body, headers={"Authorization": "Bearer ww_wrong"}).status_code
            == 401
        )
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.post(url, json=body, headers=auth)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["detection"]["verdict"] == "watermarked" and doc["models"] == ["org/base@1"]
        assert doc["detection"]["p_value"] < 1e-6
        assert master.material.hex() not in r.text  # public key ids only, never secrets
        clean = httpx.post(
            url, json={"token_ids": human.tolist(), "key_ids": [dep.key_id]}, headers=auth
        ).json()
        assert clean["detection"]["verdict"] != "watermarked"
        assert (
            httpx.post(
                url, json={"token_ids": [1, 2], "key_ids": ["0" * 16]}, headers=auth
            ).status_code
            == 404
        )
        # the oracle is rate-limited per caller: a burst of 10, then 30 a minute
        codes = [httpx.post(url, json=body, headers=auth).status_code for _ in range(12)]
        assert 429 in codes
