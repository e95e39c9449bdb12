"""Signed, logged audits (issue 22): a comparison bound to both models' weights digests,
DSSE-signed by the auditor, appended to the registry's log, verified offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.registry.conftest import with_card
from tests.test_goldens import derivative_report
from weightwatch.attest import generate, load_verifier
from weightwatch.attest.keys import KeyVerifier
from weightwatch.audit.attestation import (
    LOG_KEY,
    open_comparison,
    sign_comparison,
    subject_digests,
    verify_comparison,
    weights_digest,
)
from weightwatch.cli import main
from weightwatch.errors import RegistryError, VerificationError

pytestmark = pytest.mark.slow


def _flip_one_weight_byte(folder: Path) -> None:
    """Change one byte inside the tensor data of the folder's safetensors file."""
    path = next(folder.glob("*.safetensors"))
    data = bytearray(path.read_bytes())
    header = int.from_bytes(data[:8], "little")
    data[8 + header + 17] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_logged_comparison_verifies_offline_and_fails_on_one_changed_byte(
    registry, llama_family, tmp_path
):  # type: ignore[no-untyped-def]
    registry.register(llama_family.base, "org/base")
    ft = with_card(
        llama_family.finetune, tmp_path / "ft", base_model="org/base", relation="finetune"
    )
    registry.register(ft, "org/ft")
    auditor = generate("ed25519")
    auditor_pub = KeyVerifier(auditor.public_key, auditor.key_id)
    report = derivative_report()
    bundle = sign_comparison(report, auditor, base=llama_family.base, derivative=ft)
    stmt = open_comparison(bundle, auditor_pub)
    assert subject_digests(stmt) == {
        "base": weights_digest(llama_family.base),
        "derivative": weights_digest(ft),
    }

    logged = registry.add_signed_audit("org/ft", bundle, auditor_pub)
    log_key = load_verifier(registry.store.root / "keys" / "registry-ed25519.pub")
    view = registry.status("org/ft")
    assert view.decision is not None and view.decision.cause == "logged audit of org/ft@1"

    result = verify_comparison(
        logged, auditor_pub, base=llama_family.base, derivative=ft, log_verifier=log_key
    )
    assert result.ok and result.logged and result.log_index == logged[LOG_KEY]["index"]
    assert result.verdict == report.verdict.value

    # One byte of the derivative's weights changed: verification fails.
    altered = tmp_path / "altered"
    shutil.copytree(ft, altered)
    _flip_one_weight_byte(altered)
    bad = verify_comparison(
        logged, auditor_pub, base=llama_family.base, derivative=altered, log_verifier=log_key
    )
    assert not bad.ok and not bad.derivative_ok and bad.base_ok

    # A forged log proof, another envelope under a real proof, a missing proof when
    # one is required, another auditor's key: each fails.
    forged = json.loads(json.dumps(logged))
    forged[LOG_KEY]["hashes"] = ["00" * 32 for _ in forged[LOG_KEY]["hashes"]] or ["00" * 32]
    assert not verify_comparison(
        forged, auditor_pub, base=llama_family.base, derivative=ft, log_verifier=log_key
    ).ok
    other_report = report.model_copy(update={"margin": report.margin / 2})
    resigned = {**sign_comparison(other_report, auditor, base=llama_family.base, derivative=ft)}
    assert resigned["dsseEnvelope"] != logged["dsseEnvelope"]
    resigned[LOG_KEY] = logged[LOG_KEY]
    swapped = verify_comparison(
        resigned, auditor_pub, base=llama_family.base, derivative=ft, log_verifier=log_key
    )
    assert not swapped.ok
    assert any("another audit envelope" in p for p in swapped.problems)
    assert not verify_comparison(
        bundle, auditor_pub, base=llama_family.base, derivative=ft, require_log=True
    ).ok
    other = generate("ed25519")
    with pytest.raises(VerificationError, match="signature"):
        verify_comparison(
            logged,
            KeyVerifier(other.public_key, other.key_id),
            base=llama_family.base,
            derivative=ft,
        )


def test_the_registry_refuses_an_audit_of_other_weights(registry, llama_family, tmp_path):  # type: ignore[no-untyped-def]
    registry.register(llama_family.base, "org/base")
    ft = with_card(
        llama_family.finetune, tmp_path / "ft", base_model="org/base", relation="finetune"
    )
    registry.register(ft, "org/ft")
    auditor = generate("ed25519")
    # The audit is about the base's weights, attached to the fine-tune: refused, not logged.
    bundle = sign_comparison(
        derivative_report(), auditor, base=llama_family.base, derivative=llama_family.base
    )
    size = registry.store.log.size()
    with pytest.raises(RegistryError, match="other weights"):
        registry.add_signed_audit("org/ft", bundle, KeyVerifier(auditor.public_key, auditor.key_id))
    assert registry.store.log.size() == size


def test_sign_attach_and_verify_from_the_cli(registry, db_url, llama_family, tmp_path, capsys):  # type: ignore[no-untyped-def]
    registry.register(llama_family.base, "org/base")
    ft = with_card(
        llama_family.finetune, tmp_path / "ft", base_model="org/base", relation="finetune"
    )
    registry.register(ft, "org/ft")
    assert main(["keygen", str(tmp_path / "auditor.pem")]) == 0
    report = tmp_path / "compare.json"
    report.write_text(derivative_report().model_dump_json())
    bundle = tmp_path / "audit.bundle.json"
    common = ["--base", str(llama_family.base), "--derivative", str(ft)]
    assert (
        main(
            [
                "audit",
                "sign",
                "--report",
                str(report),
                *common,
                "--key",
                str(tmp_path / "auditor.pem"),
                "-o",
                str(bundle),
            ]
        )
        == 0
    )
    logged = tmp_path / "logged.json"
    root = str(registry.store.root)
    assert (
        main(
            [
                "registry",
                "audit",
                "org/ft",
                "--report",
                str(bundle),
                "--pub",
                str(tmp_path / "auditor.pub"),
                "--proof-out",
                str(logged),
                "--registry",
                root,
                "--db-url",
                db_url,
                "--json",
            ]
        )
        == 0
    )
    capsys.readouterr()
    log_key = str(registry.store.root / "keys" / "registry-ed25519.pub")
    verify = [
        "audit",
        "verify",
        str(logged),
        *common,
        "--pub",
        str(tmp_path / "auditor.pub"),
        "--log-key",
        log_key,
        "--require-log",
    ]
    assert main([*verify, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["logged"] is True
    # ``weightwatch verify`` reads the statement type and runs the same check
    general = ["verify", "--bundle", *verify[2:]]
    assert main([*general, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["logged"] is True
    assert main(["verify", str(ft), "--bundle", str(logged), "--pub", verify[-4]]) == 2
    altered = tmp_path / "altered"
    shutil.copytree(ft, altered)
    _flip_one_weight_byte(altered)
    for command in (verify, general):
        command[command.index(str(ft))] = str(altered)
        assert main(command) == 1


def test_an_abliterated_derivative_is_quarantined_from_its_weight_diff(
    registry, db_url, llama_family, tmp_path
):  # type: ignore[no-untyped-def]
    import numpy as np

    from weightwatch.forensics import diff_models
    from weightwatch.testing.forensics_zoo import abliterate, load

    registry.register(llama_family.base, "org/base")
    model, tokenizer = load(llama_family.base)
    direction = np.random.default_rng(3).normal(size=model.config.hidden_size)
    abliterate(model, direction / np.linalg.norm(direction)).save_pretrained(tmp_path / "abl")
    tokenizer.save_pretrained(tmp_path / "abl")
    abl = with_card(
        tmp_path / "abl", tmp_path / "abl-card", base_model="org/base", relation="finetune"
    )
    assert registry.register(abl, "org/abl").status != "quarantined"
    report = diff_models(llama_family.base, abl)
    assert report.derivation == "abliterated"
    path = tmp_path / "diff.json"
    path.write_text(report.model_dump_json())
    code = main(
        [
            "registry",
            "forensics",
            "org/abl",
            "--report",
            str(path),
            "--base",
            "org/base@1",
            "--registry",
            str(registry.store.root),
            "--db-url",
            db_url,
        ]
    )
    assert code == 0
    view = registry.status("org/abl")
    assert view.status == "quarantined"
    assert any("forensics-abliterated" in line for line in view.decision.reasons)


def test_the_registry_computes_the_diff_itself_when_the_base_is_registered(
    registry, db_url, llama_family, tmp_path
):  # type: ignore[no-untyped-def]
    """A forged "full fine-tune" diff attached to an abliterated copy is not believed: the
    registry reads both stored versions' weights and finds the abliteration itself."""
    import numpy as np

    from weightwatch.forensics import diff_models
    from weightwatch.testing.forensics_zoo import abliterate, load

    registry.register(llama_family.base, "org/base")
    model, tokenizer = load(llama_family.base)
    direction = np.random.default_rng(5).normal(size=model.config.hidden_size)
    abliterate(model, direction / np.linalg.norm(direction)).save_pretrained(tmp_path / "abl")
    tokenizer.save_pretrained(tmp_path / "abl")
    abl = with_card(
        tmp_path / "abl", tmp_path / "abl-card", base_model="org/base", relation="finetune"
    )
    registry.register(abl, "org/abl")
    honest = diff_models(llama_family.base, abl)
    forged = honest.model_copy(update={"derivation": "full_finetune", "abliteration_score": 0.0})
    path = tmp_path / "forged.json"
    path.write_text(forged.model_dump_json())
    common = ["--registry", str(registry.store.root)]
    args = ["registry", "forensics", "org/abl", "--report", str(path), "--base", "org/base@1"]
    assert main([*args, *common, "--db-url", db_url]) == 0
    view = registry.status("org/abl")
    assert view.status == "quarantined"
    assert any("forensics-abliterated" in line for line in view.decision.reasons)
    stored = registry.report(registry.version_id("org/abl"), "forensics")
    assert stored["derivation"] == "abliterated" and stored["computed_by_registry"] is True
    assert stored["attached_derivation"] == "full_finetune" and stored["base"] == "org/base@1"

    # no report at all: the registry computes it from the base it is given
    registry.register(llama_family.finetune, "org/ft")
    done = registry.add_forensics("org/ft", base="org/base@1")
    assert done.status != "quarantined"
    computed = registry.report(registry.version_id("org/ft"), "forensics")
    assert (
        computed["derivation"] == diff_models(llama_family.base, llama_family.finetune).derivation
    )
    # a base outside the registry: the attached report is recorded as given
    registry.add_forensics("org/ft", forged.model_dump(mode="json"), base="elsewhere/x")
    kept = registry.report(registry.version_id("org/ft"), "forensics")
    assert kept["computed_by_registry"] is False and kept["derivation"] == "full_finetune"
