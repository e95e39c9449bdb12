"""The published watermark conformance vectors (``watermark.json``): the file is what
``generate.py`` writes, and three implementations reproduce every green list bit for bit —
transformers' own ``WatermarkLogitsProcessor`` (kgw-hf) or our transformers processor
(kgw), our detector's per-token scores, and the vLLM v1 processor (with vLLM installed in
its own environment, ``make test-vllm``; skipped here when it is absent)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.vectors.generate import vectors
from weightwatch.watermark import WatermarkKey, get_scheme, hashing_key_of
from weightwatch.watermark.hf import WatermarkLogitsProcessor

HERE = Path(__file__).parent
DOC = json.loads((HERE / "watermark.json").read_text())
VLLM_PYTHON = Path(
    os.environ.get("WEIGHTWATCH_VLLM_PYTHON", Path(__file__).parents[2] / ".venv-vllm/bin/python")
)


def key(scheme: str) -> WatermarkKey:
    material = bytes.fromhex(DOC["key"]["material_hex"])
    return WatermarkKey(material=material, deployment=DOC["key"]["deployment"], scheme=scheme)


def test_the_published_file_is_what_the_generator_writes() -> None:
    assert json.loads((HERE / "watermark.json").read_text()) == vectors()
    assert len(DOC["vectors"]) >= 20 and any(v["green"] for v in DOC["vectors"])


@pytest.mark.parametrize("i", range(len(DOC["vectors"])))
def test_transformers_processors_reproduce_the_vectors(i: int) -> None:
    torch = pytest.importorskip("torch")
    v, vocab = DOC["vectors"][i], DOC["vocab_size"]
    ids = torch.tensor([v["context"]], dtype=torch.long)
    scores = -torch.arange(vocab, dtype=torch.float32)[None, :] / vocab
    if v["scheme"] == "kgw-hf":  # transformers' own implementation, not ours
        from transformers.generation.logits_process import WatermarkLogitsProcessor as HF

        p = v["params"]
        proc = HF(
            vocab,
            "cpu",
            greenlist_ratio=p["greenlist_ratio"],
            bias=p["bias"],
            hashing_key=hashing_key_of(key("kgw-hf")),
            seeding_scheme=p["seeding_scheme"],
            context_width=p["context_width"],
        )
        if len(v["context"]) < p["context_width"]:
            pytest.skip("transformers refuses contexts shorter than its width")
        if max(v["context"]) >= vocab:
            pytest.skip("transformers' selfhash/lefthash table lookups assume in-vocabulary ids")
        out = proc(ids, scores.clone())
    else:
        out = WatermarkLogitsProcessor(get_scheme("kgw", **v["params"]), key("kgw"))(ids, scores)
    assert torch.nonzero(out[0] != scores[0]).flatten().tolist() == v["green"]


@pytest.mark.parametrize("i", range(len(DOC["vectors"])))
def test_the_detector_scores_exactly_the_green_tokens(i: int) -> None:
    v, vocab = DOC["vectors"][i], DOC["vocab_size"]
    scheme = get_scheme(v["scheme"], **v["params"])
    cw = v["params"].get("context_width", 1)
    if len(v["context"]) < cw:
        assert v["green"] == []  # too little context to seed: generation leaves it alone
        return
    k = key(v["scheme"])
    scored = []
    for t in range(vocab):
        s = scheme.score(np.asarray([*v["context"], t]), k)
        assert s.offset + len(s.values) == len(v["context"]) + 1
        scored.append(bool(s.values[-1]))
    considered = range(vocab)
    if v["params"].get("seeding_scheme") == "selfhash":
        # transformers' selfhash only tries its top 40 candidates at generation (ids 0..39
        # under the vectors' base logits); the detector scores any token by its own seed
        considered = range(40)
    assert [t for t in considered if scored[t]] == v["green"]


@pytest.mark.vllm
def test_the_vllm_processor_reproduces_the_vectors() -> None:
    if not VLLM_PYTHON.is_file():
        pytest.skip(f"no vLLM environment at {VLLM_PYTHON} (make vllm-env)")
    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}", "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(
        [str(VLLM_PYTHON), str(HERE / "check_vllm.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else None
    assert report is not None, r.stderr[-3000:]
    assert report == {"checked": len(DOC["vectors"]), "mismatches": []}
