"""The pages' fixes of issue #17 over real HTTP: the model card rendered as sanitized
Markdown, the whole ancestry and both relations of an edge, what access applies, the
decision before moderation, findings named inside the model, search filters, download
counts, the navigation, the favicon and the log's page errors."""

from __future__ import annotations

import re
import shutil

import httpx
import pytest

from tests.server.test_ui import seed_users, signed_in
from tests.services import serving
from weightwatch.registry import Registry

pytestmark = pytest.mark.slow

FT_CARD = """---
license: mit
base_model: org/base
base_model_relation: merge
tags: [demo, tiny]
---

# Fine-tuned *demo*

Some **bold** text, a [link](https://example.org/doc) and a [bad one](javascript:alert(1)).

<script>alert('card')</script>
<img src="https://tracker.example/pixel.png" onerror="alert(2)">

![remote picture](https://tracker.example/p.png)

| metric | value |
|--------|------:|
| loss   | 1.25  |
"""

KID_CARD = """---
license: bsd-3-clause
base_model: org/ft
base_model_relation: finetune
---

# kid
"""


@pytest.fixture
def site(tmp_path, llama_family):  # type: ignore[no-untyped-def]
    from weightwatch.server import create_app
    from weightwatch.testing.demo import _malicious

    reg = Registry.open(tmp_path / "reg", init=True)
    seed_users(reg)
    reg.register(llama_family.base, "org/base")
    ft = shutil.copytree(llama_family.finetune, tmp_path / "ft")
    (ft / "README.md").write_text(FT_CARD)
    reg.register(ft, "org/ft")
    kid = shutil.copytree(llama_family.lora_merged, tmp_path / "kid")
    (kid / "README.md").write_text(KID_CARD)
    reg.register(kid, "org/kid")
    reg.register(_malicious(llama_family.base, tmp_path / "bad"), "org/bad")
    with serving(create_app(tmp_path / "reg")) as url:
        yield reg, url


def _section(page: str, name: str) -> str:
    m = re.search(rf'<section aria-labelledby="{name}".*?</section>', page, re.S)
    assert m, name
    return m.group(0)


def test_card_is_rendered_as_sanitized_markdown(site):
    _, url = site
    card = _section(httpx.get(f"{url}/models/org/ft").text, "card")
    assert "<h3>Fine-tuned <em>demo</em></h3>" in card  # Markdown, headings under the page's
    assert "<strong>bold</strong>" in card and '<td style="text-align:right">1.25</td>' in card
    assert 'href="https://example.org/doc"' in card and 'rel="nofollow noopener noreferrer"' in card
    # front matter as a table
    assert re.search(r"<th scope=\"row\">license</th><td>mit</td>", card)
    assert '<th scope="row">tags</th><td>demo, tiny</td>' in card
    # no raw HTML, script, event handler, javascript: link or remote image: look at the
    # tags themselves (the card's text may say anything, escaped)
    tags = re.findall(r"<(/?\w+)((?:\s+[\w-]+=\"[^\"]*\")*)\s*/?>", card)
    assert {t for t, _ in tags} <= {
        "section", "/section", "h2", "/h2", "h3", "/h3", "div", "/div", "table", "/table",
        "caption", "/caption", "tbody", "/tbody", "thead", "/thead", "tr", "/tr", "th",
        "/th", "td", "/td", "p", "/p", "em", "/em", "strong", "/strong", "a", "/a", "span",
        "/span",
    }  # fmt: skip
    attrs = [a for _, a in tags if a]
    assert not any(re.search(r"\son\w+=", a) for a in attrs)
    assert not any("javascript:" in a or "tracker.example/pixel" in a for a in attrs)
    assert "<img" not in card and "<script" not in card
    assert "&lt;script&gt;" in card and "[image: remote picture]" in card


def test_whole_ancestry_and_declared_relation(site):
    _, url = site
    page = httpx.get(f"{url}/models/org/kid").text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "org/base@1" in svg  # the grandparent, through org/ft
    assert re.search(r"<title>org/ft@1 is a [^<]* of org/base@1", svg)  # its edge, too
    # the card declares a merge, the weights show something else: both are said
    ft = httpx.get(f"{url}/models/org/ft").text
    assert re.search(r"merge \(declared\) · \w+ \(detected\)", ft)
    table = _section(ft, "lineage")
    assert re.search(r"<td>merge</td><td>\w+</td>", table)  # declared and detected columns


def test_access_that_applies_and_decision_before_moderation(site):
    reg, url = site
    reg.takedown("org/base@1", reason="licence breach")
    admin, _ = signed_in(url, "admin")
    page = admin.get("/models/org/base").text
    h1 = re.search(r"<h1>.*?</h1>", page, re.S).group(0)  # type: ignore[union-attr]
    assert "taken down" in h1 and "tier" not in h1 and "public" not in h1
    decision = _section(page, "decision")
    first = re.search(r"<p>(.*?)</p>", decision, re.S).group(1)  # type: ignore[union-attr]
    assert first.startswith("<strong>Taken down</strong>") and "licence breach" in first
    assert page.index('id="decision"') < page.index('id="moderation"')
    listing = admin.get("/").text
    row = re.search(r"<tr>\s*<td><a href=\"/models/org/base\">.*?</tr>", listing, re.S)
    assert row and "tier-public" not in row.group(0) and ">none<" in row.group(0)
    gated = admin.get("/models/org/kid").text  # quarantined below the takedown
    h1 = re.search(r"<h1>.*?</h1>", gated, re.S).group(0)  # type: ignore[union-attr]
    assert "quarantined" in h1 and "public" not in h1


def test_findings_name_files_inside_the_model(site):
    reg, url = site
    admin, _ = signed_in(url, "admin")
    vid = reg.version_id("org/bad", any_state=True)
    findings = _section(admin.get("/models/org/bad").text, "findings")
    assert "<td>pytorch_model.bin</td>" in findings
    assert f"{vid}/pytorch_model.bin" not in findings


def test_search_filters_and_download_counts(site):
    reg, url = site
    for _ in range(2):
        r = httpx.get(f"{url}/org/base/resolve/main/config.json", follow_redirects=True)
        assert r.status_code == 200

    def names(**params: str) -> set[str]:
        page = httpx.get(f"{url}/", params=params).text
        return set(re.findall(r'<td><a href="/models/([^"]+)">', page))

    assert names(licence="MIT") == {"org/ft"}  # case-insensitive
    assert names(licence="bsd-3-clause") == {"org/kid"}
    assert "org/base" in names(licence="apache-2.0") and "org/ft" not in names(licence="apache-2.0")
    assert names(relation="none") == {"org/base"}  # org/bad: a copy of base is related
    assert "org/kid" in names(relation="finetune") and "org/base" not in names(relation="finetune")
    status = {m: reg.status(m).status for m in ("org/base", "org/ft", "org/kid")}
    for st in set(status.values()):
        assert names(status=st) >= {m for m, s in status.items() if s == st}
        assert not names(status=st) & {m for m, s in status.items() if s != st}
    public = {m for m, s in status.items() if s == "published"}
    assert "org/base" in public and names(access="public") >= public
    assert not names(access="public") & (set(status) - public)
    assert names(status="taken_down") == set()
    assert "is not one of" in httpx.get(f"{url}/", params={"access": "secret"}).text
    listing = httpx.get(f"{url}/").text
    row = re.search(r'<td><a href="/models/org/base">.*?</tr>', listing, re.S).group(0)  # type: ignore[union-attr]
    assert "<td>2</td>" in row
    versions = _section(httpx.get(f"{url}/models/org/base").text, "history")
    assert re.search(r"org/base@1</strong></td><td>.*?</td><td>2</td>", versions)


def test_navigation_favicon_and_log_pages(site):
    _, url = site
    login = httpx.get(f"{url}/login").text
    assert not re.search(r'<a href="/log" aria-current', login)  # /login is not the log
    assert re.search(r'<a href="/log" aria-current', httpx.get(f"{url}/log").text)
    icon = re.search(r'<link rel="icon" href="([^"]+)"', login)
    assert icon and httpx.get(url + icon.group(1)).status_code == 200
    for query, status in (("page=abc", 422), ("page=0", 404), ("page=99", 404), ("page=1", 200)):
        r = httpx.get(f"{url}/log?{query}")
        assert r.status_code == status and "text/html" in r.headers["content-type"], query
    upload = signed_in(url, "pat")[0].get("/upload").text
    pattern = re.search(r'pattern="([^"]+)"', upload).group(1)  # type: ignore[union-attr]
    # Chromium compiles pattern= with the v flag, where a bare "-" at the end of a class
    # is a syntax error that switches the check off
    assert "._-]" not in pattern and re.fullmatch(pattern, "org/my-model.v2")
