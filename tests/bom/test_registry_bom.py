"""BOMs of real registered versions: a fine-tune whose card names another base, found
from its weights; an audit and a watermark recorded on it; exported through the library
and the CLI, signed with the registry key and verified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.registry.conftest import STRIPPED
from weightwatch.bom import completeness, render
from weightwatch.bom.gather import from_path, from_registry
from weightwatch.cli import main
from weightwatch.registry import Registry
from weightwatch.watermark import MasterSecret
from weightwatch.watermark.deployments import WatermarkDeployment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, llama_family) -> Iterator[tuple[Registry, Path, str]]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("bom") / "registry"
    reg = Registry.open(root, init=True)
    reg.register(llama_family.base, "org/base")
    reg.register(llama_family.finetune, "org/ft")
    dep = WatermarkDeployment.create(
        MasterSecret.generate(), "chat", scheme="kgw", gamma=0.25, delta=2.0
    )
    reg.add_watermark("org/ft", dep)
    reg.add_audit("org/ft", STRIPPED)
    yield reg, root, dep.key_id
    reg.close()


def test_pedigree_comes_from_the_weights(seeded: tuple[Registry, Path, str]) -> None:
    reg, _, key_id = seeded
    s = from_registry(reg, "org/ft")
    vid = reg.version_id("org/ft")
    detected = reg.report(vid, "lineage")["detected"]["parents"][0]
    base = next(p for p in s.parents if p.name == "org/base@1")
    assert base.evidence == "verified-from-weights"  # the card names another base
    assert base.p_value == detected["p_value"] and base.p_value < 1e-6
    assert base.relation == detected["relation"]
    declared = [p for p in s.parents if p.evidence == "declared"]
    assert declared and all(p.p_value is None for p in declared)
    assert {(f.path, f.sha256) for f in s.files} == {(f.path, f.sha256) for f in reg.files(vid)}
    assert s.weights_digest == reg.status("org/ft").weights_digest
    assert s.signer_key_id == reg.store.signer.key_id
    assert s.audit is not None and s.audit["verdict"] == "stripped"
    assert any(key_id in w for w in s.watermarks)
    for fmt in ("cyclonedx", "spdx"):
        render(s, fmt)  # validates against the official schema or raises
    cdx = render(s, "cyclonedx")["metadata"]["component"]
    ancestor = next(a for a in cdx["pedigree"]["ancestors"] if a["name"] == "org/base")
    assert {"name": "weightwatch:lineage:evidence", "value": "verified-from-weights"} in (
        ancestor["properties"]
    )
    score = completeness(s)
    assert {f.id for f in score.fields if f.present} >= {
        "pedigree_verified", "file_hashes", "weights_digest", "scan", "audit", "watermarks",
        "signature", "decision",
    }  # fmt: skip


def test_hidden_parents_leave_the_pedigree(seeded: tuple[Registry, Path, str]) -> None:
    reg, _, _ = seeded
    s = from_registry(reg, "org/ft", visible=lambda label: False)
    assert not [p for p in s.parents if "@" in p.name]  # registered parents withheld
    assert [p for p in s.parents if p.evidence == "declared"]  # the card's own claim stays
    for fmt in ("cyclonedx", "spdx"):  # nor named in obligations, disagreements, reasons
        assert "org/base" not in json.dumps(render(s, fmt))
    seen = from_registry(reg, "org/ft", visible=lambda label: True)
    assert "org/base" in json.dumps(render(seen, "cyclonedx"))


def test_local_folder_bom(llama_family) -> None:  # type: ignore[no-untyped-def]
    s = from_path(llama_family.finetune)
    assert s.source == "path" and s.weights_digest and s.files
    assert all(p.evidence == "declared" for p in s.parents)
    for fmt in ("cyclonedx", "spdx"):
        render(s, fmt)


def test_cli_exports_signs_and_verifies(
    seeded: tuple[Registry, Path, str], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    _, root, _ = seeded
    reg_opt = ["--registry", str(root)]
    for fmt in ("cyclonedx", "spdx"):
        out = tmp_path / f"ft.{fmt}.json"
        assert main(["bom", "org/ft@1", "--format", fmt, "-o", str(out), "--json", *reg_opt]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["signature"] == str(out) + ".sig"
        assert main(["bom-verify", str(out), *reg_opt]) == 0
        tampered = tmp_path / f"tampered.{fmt}.json"
        tampered.write_bytes(out.read_bytes().replace(b"verified-from-weights", b"declared", 1))
        (tmp_path / f"tampered.{fmt}.json.sig").write_bytes(Path(str(out) + ".sig").read_bytes())
        assert main(["bom-verify", str(tampered), *reg_opt]) == 1
        capsys.readouterr()
    assert main(["bom", "org/ft", "--format", "xml", *reg_opt]) == 2
    assert main(["bom", "org/nothing", *reg_opt]) == 2
    capsys.readouterr()
    assert main(["bom", "org/ft", "--format", "spdx", *reg_opt]) == 0  # to stdout
    assert json.loads(capsys.readouterr().out)["@context"].endswith("spdx-context.jsonld")
