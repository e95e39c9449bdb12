"""``make serve``'s demo: what a newcomer sees first must be what the README promises."""

from __future__ import annotations

import stat

import pytest

from tests.conftest import _cache
from weightwatch.registry import Registry, accounts
from weightwatch.registry.access import grants
from weightwatch.testing.demo import DEMO_USERS, build_demo, seed_registry

pytestmark = pytest.mark.slow


def test_demo_seed(tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "demo").mkdir()
    links = build_demo(tmp_path / "demo", cache=_cache())
    logins = seed_registry(tmp_path / "reg", tmp_path / "demo", links)
    again = seed_registry(tmp_path / "reg", tmp_path / "demo", links)  # idempotent
    assert again == logins and stat.S_IMODE(logins.stat().st_mode) == 0o600
    reg = Registry.open(tmp_path / "reg")
    status = {v.model: v for v in reg.versions()}
    assert set(status) == {
        "demo/llama-base@1", "demo/llama-finetune@1", "demo/llama-permuted@1",
        "demo/llama-base-q8_0@1", "demo/llama-merged@1", "demo/llama-chat@1",
        "demo/llama-independent@1", "mallory/llama-helper@1",
    }  # fmt: skip
    assert status["demo/llama-base@1"].status == "published"
    ft = status["demo/llama-finetune@1"]
    assert {(e.model, e.kind) for e in ft.parents} >= {
        ("demo/llama-base@1", "declared"),
        ("demo/llama-base@1", "detected"),
    }
    permuted = status["demo/llama-permuted@1"]  # undeclared lineage, found in the weights
    assert [(e.model, e.kind) for e in permuted.parents] == [("demo/llama-base@1", "detected")]
    assert permuted.status == "gated"
    assert any("lineage-undeclared" in r for r in permuted.decision.reasons)  # type: ignore[union-attr]
    q8 = status["demo/llama-base-q8_0@1"]
    assert any(e.relation == "quantized" for e in q8.parents)
    assert status["mallory/llama-helper@1"].status == "blocked"
    assert status["demo/llama-chat@1"].status == "gated"
    assert {g.user for g in grants(reg.store, "demo/llama-chat", state="pending")} == {
        "alice",
        "bob",
    }
    rows = [line.split() for line in logins.read_text().splitlines()]
    assert [r[:2] for r in rows] == [[u, role] for u, role, _, _ in DEMO_USERS]
    cookie = accounts.login(reg.store, rows[0][0], rows[0][2])  # the admin login works
    assert accounts.session(reg.store, cookie) is not None
    reg.close()
