"""End to end over the tiny model families, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.registry.conftest import STRIPPED, with_card
from weightwatch.attest.checkpoint import verify_entry_offline
from weightwatch.attest.keys import load_verifier
from weightwatch.attest.logstore import verify_log
from weightwatch.errors import RegistryError, UsageError
from weightwatch.testing.pickle_bytes import call, torch_zip

pytestmark = pytest.mark.slow


def _proof_ok(registry, ref) -> None:  # type: ignore[no-untyped-def]
    doc = registry.decision_proof(ref)
    pub = load_verifier(registry.store.root / "keys" / "registry-ed25519.pub")
    cp = verify_entry_offline(
        doc["leaf"].encode(),
        doc["index"],
        [bytes.fromhex(h) for h in doc["hashes"]],
        doc["checkpoint"],
        pub,
    )
    assert cp.size > doc["index"]
    assert json.loads(doc["leaf"])["body"]["model"] == registry.status(ref).model


@pytest.mark.parametrize("runner", ["inline", "ray"])
def test_registration_lineage_takedown_and_log(registry, llama_family, tmp_path, runner, request):
    if runner == "ray":
        request.getfixturevalue("ray_address")  # the run's one Ray instance
        from weightwatch.registry import Registry

        registry = Registry(registry.store, runner="ray")
    base = registry.register(llama_family.base, "org/base")
    assert base.state == "complete" and base.status == "published" and base.scan_verdict == "clean"
    assert base.weights_digest and base.files >= 5
    honest_ft = with_card(
        llama_family.finetune, tmp_path / "ft", base_model="org/base", relation="finetune"
    )
    registered = {
        "org/ft-honest": honest_ft,
        "org/ft-silent": with_card(
            llama_family.finetune, tmp_path / "fts", base_model=None, relation=None
        ),
        "org/q8": llama_family.gguf_q8_0,
        "org/int8": llama_family.int8,
        "org/perm": with_card(
            llama_family.permuted, tmp_path / "perm", base_model=None, relation=None
        ),
        "org/merged": llama_family.merged,
    }
    for name, path in registered.items():
        v = registry.register(path, name)
        assert v.state == "complete", (name, v.error)
    tree = registry.lineage_tree("org/base")
    below: set[str] = set()

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        for c in node.children:
            below.add(c.model.split("@")[0])
            walk(c)

    walk(tree)
    assert set(registered) <= below, f"not linked to the base: {set(registered) - below}"
    honest = registry.status("org/ft-honest")
    assert {(p.model, p.kind) for p in honest.parents} == {
        ("org/base@1", "declared"),
        ("org/base@1", "detected"),
    }
    assert honest.status == "published"
    silent = registry.status("org/ft-silent")
    assert silent.status == "gated"
    assert any(r.endswith("[lineage-undeclared]") for r in silent.decision.reasons)
    perm = registry.status("org/perm")
    assert [p.relation for p in perm.parents if p.kind == "detected"] == ["identical"]
    other = registry.register(llama_family.independent, "org/other")
    assert other.parents == [] and other.status == "published"

    # a takedown quarantines every descendant, logs it, and can be undone
    down = registry.takedown("org/base@1", reason="weights leaked under a revoked licence")
    assert down.status == "taken_down"
    for name in registered:
        v = registry.status(name)
        assert v.status == "quarantined", name
        assert any(r.endswith("[parent-withdrawn]") for r in v.decision.reasons)
        assert v.decision.cause.startswith("takedown of org/base@1")
    assert registry.status("org/other").status == "published"
    # an audit finding the honest fine-tune's safety stripped quarantines it (policy fact)
    stripped = {**STRIPPED, "derivative": "org/ft-honest@1"}
    audited = registry.add_audit("org/ft-honest", stripped)
    assert any(r.endswith("[audit-safety-stripped]") for r in audited.decision.reasons)
    assert audited.decision.cause == "audit of org/ft-honest@1"
    with pytest.raises(UsageError, match="not an audit comparison"):
        registry.add_audit("org/ft-honest", {"verdict": "stripped"})
    with pytest.raises(RegistryError, match="already taken down"):
        registry.takedown("org/base@1", reason="again")
    registry.reinstate("org/base@1", reason="licence dispute settled")
    assert registry.status("org/base").status == "published"
    assert registry.status("org/ft-honest").status == "quarantined"  # the audit still holds

    # every decision is in the log, with an inclusion proof that verifies offline
    for name in ["org/base", "org/other", *registered]:
        _proof_ok(registry, name)
    _every_decision_logged(registry)
    assert verify_log(registry.store.log) == registry.store.log.size()


def _every_decision_logged(registry) -> None:  # type: ignore[no-untyped-def]
    """Each decision row, past ones included, matches its log entry, proven under a
    signed checkpoint."""
    from weightwatch.registry.store import LOG_ORIGIN

    note = registry.store.log.checkpoint(registry.store.signer, origin=LOG_ORIGIN)
    size = int(note.split("\n")[1])
    pub = load_verifier(registry.store.root / "keys" / "registry-ed25519.pub")
    checked = 0
    for view in registry.versions():
        for d in view.history:
            entry = registry.store.log.entry(d.log_index)
            body = json.loads(entry.leaf)["body"]
            assert (body["model"], body["action"], body["cause"]) == (view.model, d.action, d.cause)
            proof = registry.store.log.inclusion_proof(d.log_index, size)
            verify_entry_offline(entry.leaf, d.log_index, proof, note, pub)
            checked += 1
    assert checked > len(registry.versions())  # takedowns and audits added decisions


def test_pickle_payload_is_blocked(registry, llama_family, tmp_path):
    evil = tmp_path / "evil"
    shutil.copytree(llama_family.base, evil)
    (evil / "pytorch_model.bin").write_bytes(torch_zip(call("os", "system", "echo pwned")))
    v = registry.register(evil, "mallory/model")
    assert v.status == "blocked" and v.scan_verdict == "malicious"
    assert any(r.endswith("[scan-code-execution]") for r in v.decision.reasons)
    _proof_ok(registry, "mallory/model")


def test_versions_numbers_and_bad_input(registry, llama_family, tmp_path):
    a = registry.register(llama_family.base, "org/m")
    b = registry.register(llama_family.int8, "org/m")
    assert (a.model, b.model) == ("org/m@1", "org/m@2")
    assert registry.status("org/m").model == "org/m@2"
    assert registry.status("org/m@1").model == "org/m@1"
    with pytest.raises(UsageError, match="NAMESPACE/NAME"):
        registry.register(llama_family.base, "no-namespace")
    with pytest.raises(UsageError, match="access"):
        registry.register(llama_family.base, "org/x", access="secret")
    with pytest.raises(RegistryError, match="no registered version"):
        registry.status("org/none")
    # a folder that fails mid-pipeline fails cleanly and stays invisible
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    v = registry.register(broken, "org/broken")
    assert v.state in ("complete", "failed")
    if v.state == "failed":
        with pytest.raises(RegistryError):
            registry.status("org/broken")


def test_llama_licence_obligations_follow_the_lineage(registry, llama_family, tmp_path):
    """The base is Llama-licensed in the registry; a derivative whose card claims Apache-2.0
    and names that base inherits the Llama obligations anyway, and is gated with the
    clauses it misses; a compliant derivative is published."""
    from tests.policy.test_family import LLAMA_NOTICE, LLAMA_TEXT

    base = with_card(
        llama_family.base, tmp_path / "base", base_model=None, relation=None, license="llama3.1"
    )
    (base / "LICENSE").write_text(LLAMA_TEXT)
    (base / "NOTICE").write_text(LLAMA_NOTICE)
    assert registry.register(base, "meta/Llama-3.1-tiny").status == "published"

    def derivative(dest, *, compliant):  # type: ignore[no-untyped-def]
        d = with_card(
            llama_family.finetune,
            dest,
            base_model="meta/Llama-3.1-tiny",
            relation="finetune",
            license="apache-2.0",
        )
        if compliant:
            readme = d / "README.md"
            readme.write_text(readme.read_text() + "\nBuilt with Llama.\n")
            (d / "LICENSE").write_text(LLAMA_TEXT)
            (d / "NOTICE").write_text(LLAMA_NOTICE)
        return d

    bad = registry.register(derivative(tmp_path / "bad", compliant=False), "acme/tiny-chat")
    assert bad.status == "gated"
    unmet = [r for r in bad.decision.reasons if r.endswith("[licence-obligation-unmet]")]
    assert any("§1.b.i: derivative name must begin with 'Llama'" in r for r in unmet), unmet
    assert any("provide a copy of this Agreement" in r for r in unmet), unmet
    good = registry.register(
        derivative(tmp_path / "good", compliant=True), "acme/Llama-3.1-tiny-chat"
    )
    assert not [r for r in good.decision.reasons if "[licence-obligation-unmet]" in r], (
        good.decision.reasons
    )
