"""Attacks on downloads served by the object store: a presigned URL altered to fetch another
blob (or the same one longer), the bucket read without a signature, a refused caller probing
for a URL, and byte ranges crafted to read past a blob or make the server buffer."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.services import serving
from weightwatch.registry import Registry

pytestmark = pytest.mark.integration


@pytest.fixture
def s3site(tmp_path, llama_family, s3_blobs):  # type: ignore[no-untyped-def]
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True, blobs=s3_blobs)
    reg.register(llama_family.base, "org/base")
    reg.register(llama_family.independent, "org/secret", access="restricted")
    with serving(create_app(tmp_path / "reg", blobs=s3_blobs, downloads="redirect")) as url:
        yield reg, url
    reg.close()


def test_a_presigned_url_fetches_only_its_blob_for_its_time(s3site, llama_family):
    reg, url = s3site
    mine = httpx.get(f"{url}/org/base/resolve/main/config.json").headers["location"]
    secret = next(f for f in reg.files(reg.resolve("org", "secret", "main").id))
    own = hashlib.sha256((llama_family.base / "config.json").read_bytes()).hexdigest()
    swapped = mine.replace(f"{own[:2]}/{own[2:]}", f"{secret.sha256[:2]}/{secret.sha256[2:]}")
    assert swapped != mine
    assert httpx.get(swapped).status_code == 403  # the signature covers the key
    longer = mine.replace("X-Amz-Expires=60", "X-Amz-Expires=604800")
    assert longer != mine and httpx.get(longer).status_code == 403  # and the expiry
    assert httpx.get(mine.split("?", 1)[0]).status_code == 403  # the bucket is private


def test_a_refused_caller_gets_no_url(s3site):
    _, url = s3site
    for path in ("org/secret/resolve/main/config.json", "org/nope/resolve/main/config.json"):
        r = httpx.get(f"{url}/{path}")
        assert r.status_code in (403, 404) and "location" not in r.headers


def test_crafted_ranges_stay_inside_the_blob(tmp_path, llama_family, s3_blobs):
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True, blobs=s3_blobs)
    reg.register(llama_family.base, "org/base")
    data = (llama_family.base / "config.json").read_bytes()
    try:
        with serving(create_app(tmp_path / "reg", blobs=s3_blobs, downloads="stream")) as url:
            f = f"{url}/org/base/resolve/main/config.json"
            huge = httpx.get(f, headers={"Range": "bytes=0-99999999999999999999"})
            assert huge.status_code == 206 and huge.content == data  # clamped to the blob
            for bad in ("bytes=-0", f"bytes={len(data)}-", "bytes=5-2"):
                assert httpx.get(f, headers={"Range": bad}).status_code == 416, bad
            for ignored in ("bytes=0-1,4-5", "items=0-1", "bytes=-"):
                r = httpx.get(f, headers={"Range": ignored})
                assert r.status_code == 200 and r.content == data, ignored
    finally:
        reg.close()
