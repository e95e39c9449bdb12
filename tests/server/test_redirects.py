"""Downloads served by the object store: ``resolve`` redirects to a short-lived presigned
URL only after the access check and the download-log write; HEAD and ranges keep the
Hub's headers; the real ``huggingface_hub`` and ``transformers`` follow the redirect; a
withdrawn version's URLs stop working when they expire. Against a real S3 server."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest
from sqlalchemy import select

from tests.services import hub_client, serving
from weightwatch.registry import Registry, schema

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXPIRES = 3


@pytest.fixture
def s3hub(tmp_path, llama_family, s3_blobs):  # type: ignore[no-untyped-def]
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True, blobs=s3_blobs)
    reg.register(llama_family.base, "org/base")
    reg.register(llama_family.int8, "org/gated", access="gated")
    app = create_app(tmp_path / "reg", blobs=s3_blobs, redirect_seconds=EXPIRES)
    with serving(app) as url:
        yield reg, url
    reg.close()


def _log(reg: Registry) -> list[tuple[str, str]]:
    with reg.store.engine.connect() as conn:
        rows = conn.execute(select(schema.downloads.c.path, schema.downloads.c.outcome)).all()
    return [(str(p), str(o)) for p, o in rows]


def test_resolve_redirects_after_the_check_and_the_log(s3hub, llama_family):
    reg, url = s3hub
    weights = (llama_family.base / "model.safetensors").read_bytes()
    digest = hashlib.sha256(weights).hexdigest()
    r = httpx.get(f"{url}/org/base/resolve/main/model.safetensors")
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(reg.store.blobs.client.meta.endpoint_url)  # type: ignore[attr-defined]
    assert "X-Amz-Expires=3" in location and digest[2:] in location
    assert r.headers["x-linked-etag"] == f'"{digest}"'
    assert int(r.headers["x-linked-size"]) == len(weights)
    assert len(r.headers["x-repo-commit"]) == 40
    assert ("model.safetensors", "served") in _log(reg)  # logged before the URL left
    got = httpx.get(location, timeout=60)
    assert got.status_code == 200 and got.content == weights
    ranged = httpx.get(
        f"{url}/org/base/resolve/main/model.safetensors",
        headers={"Range": "bytes=8-99"},
        follow_redirects=True,
        timeout=60,  # a loaded machine: the store may take a while to answer
    )
    assert ranged.status_code == 206 and ranged.content == weights[8:100]
    h = httpx.head(f"{url}/org/base/resolve/main/model.safetensors")
    assert h.status_code == 200 and "location" not in h.headers  # no URL without a logged GET
    assert int(h.headers["content-length"]) == len(weights)
    assert h.headers["x-linked-etag"] == f'"{digest}"'


def test_refusals_hand_out_no_url(s3hub):
    reg, url = s3hub
    r = httpx.get(f"{url}/org/gated/resolve/main/config.json")
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"
    assert "location" not in r.headers
    assert ("config.json", "denied") in _log(reg)


def test_withdrawn_version_unreachable_once_issued_urls_expire(s3hub, llama_family):
    reg, url = s3hub
    issued = httpx.get(f"{url}/org/base/resolve/main/config.json").headers["location"]
    reg.takedown("org/base@1", reason="test: withdrawn")
    refused = httpx.get(f"{url}/org/base/resolve/main/config.json")
    assert refused.status_code in (403, 404, 451) and "location" not in refused.headers
    time.sleep(EXPIRES + 1.5)
    assert httpx.get(issued).status_code == 403  # the URL handed out before has expired


def test_streaming_from_the_object_store_serves_ranges(tmp_path, llama_family, s3_blobs):
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True, blobs=s3_blobs)
    reg.register(llama_family.base, "org/base")
    weights = (llama_family.base / "model.safetensors").read_bytes()
    app = create_app(tmp_path / "reg", blobs=s3_blobs, downloads="stream")
    try:
        with serving(app) as url:
            f = f"{url}/org/base/resolve/main/model.safetensors"
            whole = httpx.get(f)
            assert whole.status_code == 200 and whole.content == weights
            part = httpx.get(f, headers={"Range": "bytes=100-"})
            assert part.status_code == 206 and part.content == weights[100:]
            assert part.headers["content-range"] == f"bytes 100-{len(weights) - 1}/{len(weights)}"
            tail = httpx.get(f, headers={"Range": "bytes=-10"})
            assert tail.content == weights[-10:]
            bad = httpx.get(f, headers={"Range": f"bytes={len(weights)}-"})
            assert bad.status_code == 416
    finally:
        reg.close()


def test_huggingface_hub_and_transformers_follow_the_redirect(s3hub, llama_family, tmp_path):
    reg, url = s3hub
    out = hub_client(
        url,
        tmp_path / "hf",
        "from huggingface_hub import snapshot_download\n"
        "from transformers import AutoModelForCausalLM\n"
        "print(snapshot_download('org/base'))\n"
        "m = AutoModelForCausalLM.from_pretrained('org/base')\n"
        "print(type(m).__name__)\n",
    )
    folder, kind = out.split()
    assert kind == "LlamaForCausalLM"
    for f in llama_family.base.iterdir():
        if f.is_file():
            assert (tmp_path / folder / f.name).read_bytes() == f.read_bytes(), f.name
    assert ("model.safetensors", "served") in _log(reg)
