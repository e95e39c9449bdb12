"""A policy can require a weight watermark (``require: weight_watermark``): the registry
then marks the weights at publication with its own key — every download but the owners'
and staff's is a marked copy, the anonymous public's included — and records the
deployment publicly (the version's view and its logged decision)."""

from __future__ import annotations

import json

import pytest

from tests.registry.conftest import with_card
from weightwatch.errors import PolicyError
from weightwatch.policy.engine import loads_policy
from weightwatch.registry import recipients
from weightwatch.registry.access import principal_for
from weightwatch.registry.accounts import create_user

POLICY = """
schema_version: 1
id: watermark-above-1e25
version: "1"
extends: default
disable: [compute-systemic-risk]
rules:
  - id: compute-weight-watermark
    when: {fact: compute.flop, gte: 1.0e+25}
    action: publish
    require: weight_watermark
    reason: "compute: {compute.flop} FLOP: the weights are served watermarked"
"""


def test_a_rule_parses_its_requirement_and_refuses_unknown_ones():
    rule = next(r for r in loads_policy(POLICY).rules if r.id == "compute-weight-watermark")
    assert rule.require == ("weight_watermark",)
    with pytest.raises(PolicyError, match="require must name"):
        loads_policy(POLICY.replace("require: weight_watermark", "require: [telepathy]"))


@pytest.mark.slow
def test_a_publication_above_the_tier_is_marked_and_recorded(registry, llama_family, tmp_path):
    (registry.store.root / "policy.yaml").write_text(POLICY)
    big = tmp_path / "big"
    with_card(llama_family.base, big, base_model=None, relation=None)
    readme = big / "README.md"
    readme.write_text(
        readme.read_text().replace("---\n", "---\ntraining_compute_flop: 3.0e+25\n", 1)
    )
    small = with_card(llama_family.independent, tmp_path / "small", base_model=None, relation=None)
    registry.register(big, "acme/big")
    registry.register(small, "acme/small")
    big_v, small_v = registry.resolve("acme", "big"), registry.resolve("acme", "small")
    assert recipients.marking(registry.store, small_v.id) is None  # below the tier: untouched
    m = recipients.marking(registry.store, big_v.id)
    assert m is not None and m.required_by == ("compute-weight-watermark",)
    view = registry.status("acme/big@1")
    assert view.status == "published"
    assert any("required by compute-weight-watermark" in w for w in view.watermarks)
    decision = registry.report(big_v.id, "decision")
    assert decision["requirements"] == [
        {"requirement": "weight_watermark", "rule_id": "compute-weight-watermark"}
    ]
    assert "requirements" not in registry.report(small_v.id, "decision")  # old form kept
    entry = registry.store.log.entry(registry.attestation(big_v.id).log_index)
    logged = json.loads(entry.leaf)
    assert logged["body"]["weight_watermark"]["master_key_id"] == m.master_key_id
    # the public gets a marked copy; so does a signed-in user; the owner gets the original
    original = {f.path: f.sha256 for f in registry.files(big_v.id)}
    create_user(registry.store, "eve", "eve-password-123")
    create_user(registry.store, "acme", "acme-password-123")
    for who in (None, principal_for(registry.store, "eve")):
        served = {
            s.path: s
            for s in recipients.served_files(registry.store, who, big_v, registry.files(big_v.id))
        }
        assert served["model.safetensors"].sha256 != original["model.safetensors"]
        assert served["config.json"].sha256 == original["config.json"]
    owner = recipients.served_files(
        registry.store, principal_for(registry.store, "acme"), big_v, registry.files(big_v.id)
    )
    assert {s.path: s.sha256 for s in owner} == original
    users = {c.user for c in recipients.copies(registry.store, big_v.id)}
    assert users == {recipients.ANONYMOUS, "eve"}
    # deciding again (a later decision) keeps the one marking
    registry._redecide(big_v.id, cause="test")
    assert recipients.marking(registry.store, big_v.id) == m
