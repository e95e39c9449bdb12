"""Writes ``watermark.json``: published conformance vectors for the sampling-time schemes.

Each vector is (scheme, parameters, key, context) → the green list over a 64-token
vocabulary: the token ids the scheme biases after that context. Run from the repository
root: ``python tests/vectors/generate.py`` (``tests/vectors/test_vectors.py`` checks the
file is what this writes, and that the transformers processors, our detector and the
vLLM processor all reproduce it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
FORMAT = "weightwatch-watermark-vectors/1"
VOCAB = 64
CONTEXTS = [[5], [0, 1, 2, 3], [63, 17, 17, 42, 8], [7] * 6, [1000, 3, 9, 60, 12]]
SCHEMES: list[tuple[str, dict[str, Any]]] = [
    ("kgw", {"gamma": 0.25, "delta": 2.0, "context_width": 1, "seeding": "lefthash"}),
    ("kgw", {"gamma": 0.5, "delta": 1.5, "context_width": 4, "seeding": "lefthash"}),
    ("kgw", {"gamma": 0.25, "delta": 2.0, "context_width": 4, "seeding": "selfhash"}),
    (
        "kgw-hf",
        {
            "vocab_size": VOCAB,
            "greenlist_ratio": 0.25,
            "bias": 2.0,
            "seeding_scheme": "lefthash",
            "context_width": 1,
        },
    ),
    (
        "kgw-hf",
        {
            "vocab_size": VOCAB,
            "greenlist_ratio": 0.25,
            "bias": 2.0,
            "seeding_scheme": "selfhash",
            "context_width": 4,
        },
    ),
]
KEY_MATERIAL = bytes(range(32))  # public test key: these vectors are for conformance only


def green_list(name: str, params: dict[str, Any], context: list[int]) -> list[int]:
    from weightwatch.watermark import WatermarkKey, get_scheme

    scheme = get_scheme(name, **params)
    key = WatermarkKey(material=KEY_MATERIAL, deployment="vectors", scheme=name)
    ctx = np.asarray([context], dtype=np.int64)
    cand = np.arange(VOCAB, dtype=np.int64)[None, :]
    base = base_logits()[None, :]
    out = scheme.process_logits(ctx, cand, base, key)[0]
    return [int(i) for i in np.flatnonzero(out != base[0])]


def base_logits() -> np.ndarray:  # type: ignore[type-arg]
    """Distinct logits (id ``i`` gets ``-i/64``), so schemes that look only at the top
    candidates (transformers' selfhash: its top 40) see one unambiguous order."""
    return -np.arange(VOCAB, dtype=np.float64) / VOCAB


def vectors() -> dict[str, Any]:
    rows = []
    for name, params in SCHEMES:
        for context in CONTEXTS:
            rows.append(
                {
                    "scheme": name,
                    "params": params,
                    "context": context,
                    "green": green_list(name, params, context),
                }
            )
    return {
        "format": FORMAT,
        "vocab_size": VOCAB,
        "key": {"material_hex": KEY_MATERIAL.hex(), "deployment": "vectors"},
        "note": "green = token ids (0..vocab_size-1) whose logit the scheme raises after "
        "the context, given base logits -id/vocab_size (float32-exact); kgw-hf is transformers' WatermarkingConfig with "
        "hashing_key = weightwatch.watermark.hashing_key_of(key)",
        "vectors": rows,
    }


if __name__ == "__main__":
    text = json.dumps(vectors(), indent=1) + "\n"
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if (HERE / "watermark.json").read_text() == text else 1)
    (HERE / "watermark.json").write_text(text)
