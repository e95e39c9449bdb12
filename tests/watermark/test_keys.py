from __future__ import annotations

import base64
import json
import stat

import numpy as np
import pytest

from weightwatch.errors import ArtifactError, UsageError
from weightwatch.watermark import MasterSecret, WatermarkKey, detect, get_scheme


def _leaks(text: str, material: bytes) -> bool:
    forms = [
        material.hex(),
        base64.b64encode(material).decode(),
        repr(material),
        str(list(material)),
    ]
    return any(f in text for f in forms)


def test_derivation_is_deterministic() -> None:
    master = MasterSecret(bytes(range(32)))
    a = master.derive("chat-prod", scheme="kgw", rotation=3)
    b = MasterSecret(bytes(range(32))).derive("chat-prod", scheme="kgw", rotation=3)
    assert a == b
    assert a.material == b.material
    assert a.key_id == b.key_id
    assert len(a.material) == 32
    assert len(a.key_id) == 16 and int(a.key_id, 16) >= 0


def test_golden_derivation() -> None:
    # HKDF-SHA256 output is pinned so that keys survive refactoring.
    key = MasterSecret(bytes(32)).derive("prod", scheme="kgw", rotation=0)
    assert key.key_id == GOLDEN_KEY_ID


GOLDEN_KEY_ID = "5db2074e8ff8bb13"  # pinned: changing it would orphan every deployed key


def test_golden_key_id_value() -> None:
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    info = b'{"deployment":"prod","rotation":0,"scheme":"kgw"}'
    raw = HKDF(hashes.SHA256(), 32, b"weightwatch/watermark/v1", info).derive(bytes(32))
    expected = hashlib.sha256(b"weightwatch/watermark/key-id\x00" + raw).hexdigest()[:16]
    assert expected == GOLDEN_KEY_ID


def test_key_ids_differ_per_deployment_scheme_rotation() -> None:
    master = MasterSecret.generate()
    keys = [
        master.derive(dep, scheme=sch, rotation=rot)
        for dep in ("a", "b", "ab")
        for sch in ("kgw", "gumbel")
        for rot in (0, 1, 2)
    ]
    assert len({k.key_id for k in keys}) == len(keys)
    assert len({k.material for k in keys}) == len(keys)
    other = MasterSecret.generate().derive("a", scheme="kgw")
    assert other.key_id not in {k.key_id for k in keys}


def test_no_key_bytes_in_repr_or_reports() -> None:
    master = MasterSecret.generate()
    key = master.derive("prod", scheme="kgw")
    for text in (repr(master), str(master), repr(key), str(key), json.dumps(key.public())):
        assert not _leaks(text, master.material)
        assert not _leaks(text, key.material)
    ids = np.random.default_rng(0).integers(0, 1000, 300)
    report = detect(ids, scheme=get_scheme("kgw"), keys=key, windows=(32, 64))
    assert report.key_id == key.key_id
    assert not _leaks(report.model_dump_json(), key.material)
    assert not _leaks(report.model_dump_json(), master.material)


def test_integer_key_is_not_written_anywhere() -> None:
    key = WatermarkKey.from_integer(987654321987)
    assert "987654321987" not in repr(key)
    assert "987654321987" not in json.dumps(key.public())


def test_save_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    master = MasterSecret.generate()
    path = tmp_path / "master.json"
    master.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert MasterSecret.load(path) == master
    assert MasterSecret.load(path).derive("x", scheme="kgw") == master.derive("x", scheme="kgw")
    with pytest.raises(UsageError):
        master.save(path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"format": "other", "secret": ""}),
        json.dumps({"format": "weightwatch-watermark-master/1"}),
        json.dumps({"format": "weightwatch-watermark-master/1", "secret": "!!!"}),
        json.dumps(
            {
                "format": "weightwatch-watermark-master/1",
                "secret": base64.b64encode(b"short").decode(),
            }
        ),
        json.dumps(
            {
                "format": "weightwatch-watermark-master/1",
                "secret": base64.b64encode(bytes(32)).decode(),
                "key_id": "0000000000000000",
            }
        ),
    ],
)
def test_load_rejects_bad_files(tmp_path, content: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "master.json"
    path.write_text(content)
    with pytest.raises(ArtifactError):
        MasterSecret.load(path)


def test_missing_file_is_an_artifact_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ArtifactError):
        MasterSecret.load(tmp_path / "absent.json")


def test_bad_inputs() -> None:
    with pytest.raises(UsageError):
        MasterSecret(b"x" * 31)
    with pytest.raises(UsageError):
        MasterSecret.generate().derive("", scheme="kgw")
    with pytest.raises(UsageError):
        MasterSecret.generate().derive("a", scheme="kgw", rotation=-1)
    with pytest.raises(UsageError):
        WatermarkKey.from_integer(0)


def test_key_for_another_scheme_is_refused() -> None:
    key = MasterSecret.generate().derive("a", scheme="gumbel")
    with pytest.raises(UsageError):
        detect([1, 2, 3], scheme=get_scheme("kgw"), keys=key)
