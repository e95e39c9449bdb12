"""Recipient-traceable copies: each recipient of a gated version gets bytes marked with
their own key, owners get the original, a copy is rebuilt to the same digest, its signed
derivation record verifies, and a trace names the recipient (and no one for the original)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tests.registry.conftest import with_card
from weightwatch.attest.bundle import open_bundle
from weightwatch.errors import RegistryError, UsageError
from weightwatch.registry import recipients
from weightwatch.registry.access import principal_for, set_grant
from weightwatch.registry.accounts import create_user
from weightwatch.watermark.gaussmark import GaussMark
from weightwatch.watermark.keys import MasterSecret
from weightwatch.watermark.recipients import PREDICATE_TYPE, mark_file, read_statement
from weightwatch.watermark.weightio import embed_folder

pytestmark = pytest.mark.slow
WEIGHTS = "model.safetensors"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_mark_file_writes_what_embed_folder_writes(llama_family, tmp_path):
    scheme = GaussMark.from_params(sigma=0.8)
    assert isinstance(scheme, GaussMark)
    key = MasterSecret(bytes(32)).derive("x", scheme="gaussmark")
    embed_folder(llama_family.base, tmp_path / "folder", scheme=scheme, key=key)
    names = scheme.select({"lm_head.weight": (1, 1)})
    mark_file(llama_family.base / WEIGHTS, tmp_path / "one", scheme=scheme, key=key, names=names)
    assert _sha(tmp_path / "one") == _sha(tmp_path / "folder" / WEIGHTS)
    assert _sha(tmp_path / "one") != _sha(llama_family.base / WEIGHTS)


@pytest.fixture
def gated(registry, llama_family):  # type: ignore[no-untyped-def]
    registry.register(llama_family.base, "acme/gated", access="gated")
    for user in ("alice", "bob", "acme"):
        create_user(registry.store, user, f"{user}-password-123")
    for user in ("alice", "bob"):
        set_grant(registry.store, "acme/gated", user, "accepted")
    v = registry.resolve("acme", "gated")
    return registry, v


def _served(registry, v, user):  # type: ignore[no-untyped-def]
    who = principal_for(registry.store, user)
    return {
        s.path: s for s in recipients.served_files(registry.store, who, v, registry.files(v.id))
    }


def test_each_recipient_gets_their_own_copy_of_the_marked_file_only(gated, llama_family):
    registry, v = gated
    before = _served(registry, v, "alice")
    assert all(s.key_id is None for s in before.values())  # not yet enabled: the original
    m = recipients.enable(registry.store, v)
    assert list(m.files) == [WEIGHTS] and m.master_key_id
    with pytest.raises(RegistryError, match="already"):
        recipients.enable(registry.store, v)
    alice, bob, owner = (_served(registry, v, u) for u in ("alice", "bob", "acme"))
    original = {f.path: f for f in registry.files(v.id)}
    assert alice[WEIGHTS].sha256 not in (bob[WEIGHTS].sha256, original[WEIGHTS].sha256)
    assert alice[WEIGHTS].key_id and alice[WEIGHTS].key_id != bob[WEIGHTS].key_id
    assert alice[WEIGHTS].size == original[WEIGHTS].size  # same dtype, same header
    for path, f in original.items():
        assert owner[path].sha256 == f.sha256 and owner[path].key_id is None
        if path != WEIGHTS:
            assert alice[path].sha256 == f.sha256  # unchanged files are the original blobs
    # the copy's blob is stored and reads back as the bytes of its digest
    data = b"".join(registry.store.blobs.chunks(alice[WEIGHTS].sha256))
    assert hashlib.sha256(data).hexdigest() == alice[WEIGHTS].sha256
    # a copy whose blob went missing is rebuilt to the same digest
    registry.store.blobs.delete(alice[WEIGHTS].sha256)
    assert _served(registry, v, "alice")[WEIGHTS].sha256 == alice[WEIGHTS].sha256
    assert registry.store.blobs.exists(alice[WEIGHTS].sha256)
    # the collector keeps copies' blobs (no version's files name them)
    done = registry.collect_blobs(grace=0)
    assert alice[WEIGHTS].sha256 not in done.deleted


def test_the_signed_derivation_record_names_original_copy_and_key_id(gated):
    registry, v = gated
    recipients.enable(registry.store, v)
    alice = principal_for(registry.store, "alice")
    bundle = recipients.derivation(registry.store, alice, v)
    stmt = open_bundle(bundle, registry.verifier(), predicate_types=(PREDICATE_TYPE,))
    copy = read_statement(stmt)
    served = _served(registry, v, "alice")[WEIGHTS]
    original = next(f for f in registry.files(v.id) if f.path == WEIGHTS)
    (rec,) = copy.files
    assert (rec.copy_sha256, rec.original_sha256, rec.key_id) == (
        served.sha256,
        original.sha256,
        served.key_id,
    )
    assert copy.version == "acme/gated@1" and copy.recipient == "alice"
    master = recipients.master_secret(registry.store)
    raw = recipients.marking(registry.store, v.id).key(master, "alice").material  # type: ignore[union-attr]
    assert raw.hex() not in str(bundle) and master.material.hex() not in str(bundle)
    with pytest.raises(RegistryError, match="no recipient copy"):
        recipients.derivation(registry.store, principal_for(registry.store, "acme"), v)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the model, not the database
def test_trace_names_the_recipient_from_text_and_from_a_derivative(gated, tmp_path):
    import torch

    from weightwatch.testing import wm_eval as ev
    from weightwatch.watermark.generation import load_model

    registry, v = gated
    with pytest.raises(UsageError, match="not served"):
        recipients.trace(registry.store, v, token_ids=[1, 2, 3])
    recipients.enable(registry.store, v)
    folders = {}
    for user in ("alice", "bob", "acme"):  # acme owns the model: the original
        served = _served(registry, v, user)
        folder = tmp_path / user
        folder.mkdir()
        for s in served.values():
            (folder / s.path).write_bytes(b"".join(registry.store.blobs.chunks(s.sha256)))
        folders[user] = folder
    # from the weights of a copy, and of a copy changed afterwards (all of lm_head scaled)
    assert recipients.trace(registry.store, v, derivative=folders["bob"]).recipient == "bob"
    model, tok = load_model(folders["alice"])
    text = ev.sample(model, 1, tokens=600, seed=5)[0]  # 600 tokens: a test must not flake
    with torch.no_grad():
        model.lm_head.weight.mul_(0.98)
    model.save_pretrained(tmp_path / "derived")
    t = recipients.trace(registry.store, v, derivative=tmp_path / "derived")
    assert t.recipient == "alice" and t.recipients_tested == 2
    # from text sampled from alice's copy
    t = recipients.trace(registry.store, v, token_ids=text.tolist())
    assert t.recipient == "alice", t.detection
    # text from the original model, and random tokens, name no one
    original, _ = load_model(folders["acme"])
    for ids in (
        ev.sample(original, 1, tokens=600, seed=6)[0].tolist(),
        np.random.default_rng(0).integers(0, len(tok), 400).tolist(),
    ):
        assert recipients.trace(registry.store, v, token_ids=ids).recipient is None
    assert recipients.trace(registry.store, v, derivative=folders["acme"]).recipient is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_enables_lists_and_traces(gated, tmp_path, capsys):
    import json

    from weightwatch.cli import main

    registry, v = gated
    url = str(registry.store.engine.url.render_as_string(hide_password=False))
    args = ["--registry", str(registry.store.root), "--db-url", url]
    assert main(["registry", "recipients", "acme/gated", "--enable", "--sigma", "0.7", *args]) == 0
    assert "served as recipient copies" in capsys.readouterr().out
    served = _served(registry, v, "bob")  # bob's first download makes his copy
    folder = tmp_path / "bob"
    folder.mkdir()
    for s in served.values():
        (folder / s.path).write_bytes(b"".join(registry.store.blobs.chunks(s.sha256)))
    assert main(["registry", "recipients", "acme/gated", "--json", *args]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["marking"]["params"]["sigma"] == 0.7
    assert [c["user"] for c in doc["copies"]] == ["bob"]
    code = main(["registry", "trace", "acme/gated", str(folder), "--derivative", "--json", *args])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["recipient"] == "bob" and out["recipients_tested"] == 1
    # a registered derivative of bob's copy, found as a child of the version by lineage
    child = with_card(folder, tmp_path / "child", base_model="acme/gated", relation="finetune")
    registry.register(child, "eve/child")
    code = main(["registry", "trace", "acme/gated", "--children", "--json", *args])
    assert code == 1 and json.loads(capsys.readouterr().out)["eve/child@1"]["recipient"] == "bob"
    text = tmp_path / "t.txt"
    text.write_text("An unrelated sentence, written by a person, to be traced.")
    assert main(["registry", "trace", "acme/gated", str(text), *args]) == 0
    assert "no recipient named" in capsys.readouterr().out
    assert main(["registry", "trace", "acme/gated", str(tmp_path / "nope.txt"), *args]) == 2
