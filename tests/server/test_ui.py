"""The server-rendered pages, fetched over HTTP (the browser tests come with the full UI)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_model_list_page_and_search(hub):
    _, url = hub
    page = httpx.get(f"{url}/").text
    assert "org/base@1" in page and 'class="badge published"' in page
    assert 'class="badge gated"' in page  # org/gated
    assert "taken down" in page  # org/down is listed with its status
    assert '<label for="q">' in page  # the search box is labelled
    found = httpx.get(f"{url}/", params={"q": "gated"}).text
    assert 'href="/models/org/gated"' in found and 'href="/models/org/base"' not in found
    hostile = httpx.get(f"{url}/", params={"q": "<script>alert(1)</script>"}).text
    assert "<script>alert(1)</script>" not in hostile and "&lt;script&gt;" in hostile


def test_model_page_and_log(hub):
    reg, url = hub
    page = httpx.get(f"{url}/models/org/gated").text
    assert "org/gated@1" in page and "Decision" in page and "model.safetensors" in page
    assert reg.status("org/gated").weights_digest in page
    log = httpx.get(f"{url}/log").text
    assert "weightwatch-registry" in log and "org/down@1" in log and "takedown" in log
    assert httpx.get(f"{url}/static/style.css").status_code == 200
