"""Deployment records and detection by public key id (what a registry and server call)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.watermark.helpers import simulate
from weightwatch.errors import UsageError, VerificationError
from weightwatch.watermark import (
    KeyRing,
    MasterSecret,
    WatermarkDeployment,
    detect_by_key_id,
)


def test_records_hold_no_secret_and_round_trip() -> None:
    master = MasterSecret.generate()
    dep = WatermarkDeployment.create(master, "chat", scheme="kgw", gamma=0.5, rotation=2)
    key = master.derive("chat", scheme="kgw", rotation=2)
    assert dep.key_id == key.key_id and dep.params["gamma"] == 0.5
    text = dep.model_dump_json()
    assert key.material.hex() not in text and master.material.hex() not in text
    assert WatermarkDeployment.model_validate_json(text) == dep
    with pytest.raises(VerificationError):
        dep.key(MasterSecret.generate())
    with pytest.raises(UsageError):
        WatermarkDeployment.create(master, "chat", scheme="kgw", gamma=3.0)


def test_detect_by_key_id_across_rotations() -> None:
    master = MasterSecret.generate()
    deps = [
        WatermarkDeployment.create(master, "chat", scheme="tournament", rotation=r)
        for r in range(3)
    ]
    other = WatermarkDeployment.create(master, "batch", scheme="kgw")
    ring = KeyRing(master, [*deps, other])
    assert len(ring) == 4 and deps[1].key_id in ring
    dep, key = ring.lookup(deps[1].key_id)
    wm = simulate(
        dep.build_scheme(), key, batch=1, steps=150, vocab=900, scale=1.0,
        rng=np.random.default_rng(0),
    )[0]  # fmt: skip
    one = detect_by_key_id(wm, keyring=ring, key_ids=deps[1].key_id)
    assert one.verdict == "watermarked" and one.key_id == deps[1].key_id
    three = detect_by_key_id(wm, keyring=ring, key_ids=[d.key_id for d in deps])
    assert three.keys_tested == 3 and three.key_id == deps[1].key_id
    assert three.p_value == pytest.approx(min(1.0, 3 * one.p_value))
    miss = detect_by_key_id(wm, keyring=ring, key_ids=deps[0].key_id)
    assert miss.verdict == "not_watermarked"
    with pytest.raises(UsageError, match="unknown watermark key id"):
        detect_by_key_id(wm, keyring=ring, key_ids="0123456789abcdef")
    with pytest.raises(UsageError, match="share a scheme"):
        detect_by_key_id(wm, keyring=ring, key_ids=[deps[0].key_id, other.key_id])
    with pytest.raises(UsageError):
        detect_by_key_id(wm, keyring=ring, key_ids=[])
