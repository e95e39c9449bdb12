"""Run with vLLM's own Python (``/work/venvs/vllm``): vLLM's v1 logits-processor machinery,
driving ``weightwatch.watermark.vllm_processor.WatermarkProcessor``, must raise exactly the
green lists of ``watermark.json``. Prints one JSON line: {"checked": N, "mismatches": [...]}."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate

HERE = Path(__file__).parent


def main() -> None:
    doc = json.loads((HERE / "watermark.json").read_text())
    vocab = doc["vocab_size"]
    from weightwatch.watermark import vllm_processor as vp
    from weightwatch.watermark.keys import MasterSecret

    mismatches, checked = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, v in enumerate(doc["vectors"]):
            # the processor derives its key from a master secret; vectors use the raw key, so
            # point the environment at a secret and swap in the vector key afterwards
            secret = Path(tmp) / f"m{i}.json"
            MasterSecret.generate().save(secret)
            os.environ.update(
                {
                    vp.ENV_MASTER: str(secret),
                    vp.ENV_DEPLOYMENT: doc["key"]["deployment"],
                    vp.ENV_SCHEME: v["scheme"],
                    vp.ENV_PARAMS: json.dumps(v["params"]),
                }
            )
            proc = vp.WatermarkProcessor(None, torch.device("cpu"), False)
            from weightwatch.watermark.keys import WatermarkKey

            proc.key = WatermarkKey(
                material=bytes.fromhex(doc["key"]["material_hex"]),
                deployment=doc["key"]["deployment"],
                scheme=v["scheme"],
            )
            prompt, output = v["context"][:-2], v["context"][-2:]  # context spans both
            if not prompt:
                prompt, output = v["context"], []
            proc.update_state(
                BatchUpdate(
                    batch_size=1,
                    removed=[],
                    moved=[],
                    added=[(0, SamplingParams(), prompt, output)],
                )
            )
            base = -torch.arange(vocab, dtype=torch.float32)[None, :] / vocab
            logits = proc.apply(base.clone())
            green = [int(t) for t in torch.nonzero(logits[0] != base[0]).flatten().tolist()]
            checked += 1
            if green != v["green"]:
                mismatches.append({"vector": i, "got": green, "want": v["green"]})
    print(json.dumps({"checked": checked, "mismatches": mismatches}))
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
