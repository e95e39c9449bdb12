"""Fingerprints: every invariance claim, the file format, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from weightwatch.errors import ArtifactError
from weightwatch.fingerprint import FORMAT, Fingerprint, fingerprint
from weightwatch.fingerprint.vocab import ANCHORS, token_bytes, vocab_style

pytestmark = pytest.mark.slow


def _same(a: Fingerprint, b: Fingerprint, tol: float = 2e-3) -> None:
    """Equal up to float error, matrix by matrix, after matching anchors by their bytes."""
    pos = {x: i for i, x in enumerate(b.anchors)}
    shared = [(i, pos[x]) for i, x in enumerate(a.anchors) if x in pos]
    assert len(shared) == len(a.anchors) == len(ANCHORS)
    ia = np.array([s[0] for s in shared])
    ib = np.array([s[1] for s in shared])
    np.testing.assert_allclose(a.emb[np.ix_(ia, ia)], b.emb[np.ix_(ib, ib)], atol=tol)
    assert a.layers.keys() == b.layers.keys()
    for kind in a.layers:
        for la, lb in zip(a.layers[kind], b.layers[kind], strict=True):
            x, y = la[np.ix_(ia, ia)], lb[np.ix_(ib, ib)]
            scale = float(np.abs(x).max())
            np.testing.assert_allclose(x, y, atol=tol * scale, err_msg=kind)


def test_byte_level_and_sentencepiece_tokens_map_to_the_same_bytes():
    assert token_bytes("\u0120the", "byte_level") == b" the"
    assert token_bytes("\u2581the", "sentencepiece") == b" the"
    assert token_bytes("<0x41>", "sentencepiece") == b"A"
    assert token_bytes("<s>", "sentencepiece") is None
    assert token_bytes("\u010a", "byte_level") == b"\n"
    assert vocab_style({"\u2581a": 0, "\u2581b": 1, "c": 2}) == "sentencepiece"


@pytest.mark.parametrize("member", ["base_bin", "base_bin_legacy", "permuted", "gguf_f16"])
def test_same_function_same_fingerprint_family(llama_family, member):
    _same(fingerprint(llama_family.base), fingerprint(getattr(llama_family, member)))


@pytest.mark.parametrize(
    "name", ["rotated", "rescaled", "vocab_shuffled", "vocab_extended", "rotated_permuted"]
)
def test_same_function_same_fingerprint_evasion(llama_family, evasions, name):
    _same(fingerprint(llama_family.base), fingerprint(evasions[name]))


def test_trimmed_vocabulary_keeps_every_anchor(llama_family, evasions):
    _same(fingerprint(llama_family.base), fingerprint(evasions["vocab_trimmed"]))


def test_quantized_copies_stay_close_but_are_flagged(llama_family):
    base = fingerprint(llama_family.base)
    q8 = fingerprint(llama_family.gguf_q8_0)
    assert q8.info["quantized"] and not base.info["quantized"]
    assert fingerprint(llama_family.int8).info["quantized"]
    assert not fingerprint(llama_family.pruned).info["quantized"]  # zeros are not a grid
    _same(base, q8, tol=2e-2)


def test_save_load_round_trip_and_format_checks(llama_family, tmp_path):
    fp = fingerprint(llama_family.base)
    path = fp.save(tmp_path / "base.wwfp")
    back = Fingerprint.load(path)
    assert back.anchors == fp.anchors and back.info == fp.info
    _same(fp, back)  # layers are stored as float16
    np.testing.assert_array_equal(back.index_vector(), fp.index_vector())
    header = json.loads(path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")])
    assert header["__metadata__"]["format"] == FORMAT
    # another safetensors file is refused by name, not misread
    with pytest.raises(ArtifactError, match="not a weightwatch fingerprint"):
        Fingerprint.load(llama_family.base / "model.safetensors")
    bad = tmp_path / "cut.wwfp"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a truncated download
    with pytest.raises(ArtifactError):
        Fingerprint.load(bad)


def test_clear_errors_for_what_cannot_be_fingerprinted(llama_family, tmp_path):
    with pytest.raises(ArtifactError, match="adapter"):
        fingerprint(llama_family.lora_adapter)
    from safetensors.numpy import save_file

    save_file({"w": np.zeros((4, 4), dtype=np.float32)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(ArtifactError, match="no transformer layers"):
        fingerprint(tmp_path / "x.safetensors")
    no_tok = tmp_path / "no-tokenizer"
    no_tok.mkdir()
    for f in ("config.json", "model.safetensors"):
        (no_tok / f).write_bytes((llama_family.base / f).read_bytes())
    with pytest.raises(ArtifactError, match="tokenizer"):
        fingerprint(no_tok)


def test_gpt2_conv1d_weights_are_read_in_linear_orientation(gpt2_family):
    base = fingerprint(gpt2_family.base)
    assert base.info["layout"] == "gpt2" and base.n_layers == 2
    _same(base, fingerprint(gpt2_family.base_bin))
