"""Issue #18: fingerprints and lineage for every decoder family people publish, in
safetensors and GGUF naming alike, on tiny models built from transformers' own configs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.lineage.test_fingerprint import _same
from weightwatch.cli import main
from weightwatch.errors import ArtifactError
from weightwatch.fingerprint import Fingerprint, fingerprint
from weightwatch.lineage import compare
from weightwatch.testing import archs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(llama_family, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Per architecture: base, its GGUF export, a perturbed child, an unrelated seed."""
    root = tmp_path_factory.mktemp("archs")
    out: dict[str, dict[str, Fingerprint]] = {}
    for arch in archs.ARCHS:
        d = root / arch
        model = archs.build(arch, llama_family.tokenizer, d / "base", seed=0)
        archs.build(arch, llama_family.tokenizer, d / "other", seed=1)
        child = archs.perturb(model, scale=0.3)
        child.save_pretrained(d / "child")
        for f in llama_family.tokenizer.iterdir():
            shutil.copy(f, d / "child" / f.name)
        gguf = archs.export_gguf(d / "base", d / "base.gguf")
        q8 = archs.export_gguf(d / "child", d / "child-q8_0.gguf", qtype="Q8_0")
        out[arch] = {
            "base": fingerprint(d / "base"),
            "gguf": fingerprint(gguf),
            "child": fingerprint(d / "child"),
            "child_q8": fingerprint(q8),
            "other": fingerprint(d / "other"),
        }
    return out


@pytest.mark.parametrize("arch", archs.ARCHS)
def test_safetensors_and_gguf_naming_give_the_same_fingerprint(built, arch):
    _same(built[arch]["base"], built[arch]["gguf"])


@pytest.mark.parametrize("arch", archs.ARCHS)
def test_a_derivative_is_linked_and_an_independent_model_is_not(built, arch):
    fp = built[arch]
    for child in ("child", "child_q8"):
        c = compare(fp["base"], fp[child])
        assert c.verdict == "derived", (arch, child, c.score, c.p_value)
    c = compare(fp["base"], fp["other"])
    assert c.verdict == "unrelated", (arch, c.score, c.p_value)


def test_the_fingerprint_names_the_family(built):
    assert built["gemma3_text"]["gguf"].info["arch"] == "gemma3"
    assert built["mixtral"]["base"].info["arch"] == "mixtral"


def _unknown_arch(llama_family, dest: Path) -> Path:
    shutil.copytree(llama_family.base, dest)
    cfg = json.loads((dest / "config.json").read_text())
    cfg["model_type"] = "weirdformer"
    cfg["architectures"] = ["WeirdformerForCausalLM"]
    (dest / "config.json").write_text(json.dumps(cfg))
    return dest


def test_an_unknown_architecture_is_a_clear_error(llama_family, tmp_path, capsys):
    model = _unknown_arch(llama_family, tmp_path / "weird")
    with pytest.raises(ArtifactError, match="fingerprint: unsupported architecture 'weirdformer'"):
        fingerprint(model)
    assert main(["fingerprint", str(model)]) == 2
    err = capsys.readouterr().err
    assert "unsupported architecture 'weirdformer'" in err
    assert "internal error" not in err and "Traceback" not in err


def test_an_unknown_architecture_is_quarantined_for_review(llama_family, tmp_path):
    from weightwatch.registry import Registry

    model = _unknown_arch(llama_family, tmp_path / "weird")
    reg = Registry.open(tmp_path / "registry", f"sqlite:///{tmp_path}/r.db", init=True)
    try:
        v = reg.register(model, "lab/weird")
    finally:
        reg.close()
    assert v.status == "quarantined", v
    assert v.decision is not None
    assert any("unsupported architecture 'weirdformer'" in r for r in v.decision.reasons), v
