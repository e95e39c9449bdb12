"""vLLM (CPU build, v1 engine, its own environment) generating with our logits processor:
the text is detected by our detector, and the same model without it is not.

Runs only where vLLM is installed (``make vllm-env`` → .venv-vllm, or
``WEIGHTWATCH_VLLM_PYTHON``); ``make test-vllm`` runs it (about 5 minutes on 2 cores,
most of it importing vLLM), ``make test`` does not."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from weightwatch.watermark import MasterSecret, detect, get_scheme
from weightwatch.watermark import vllm_processor as vp

ROOT = Path(__file__).parents[2]
VLLM_PYTHON = Path(
    os.environ.get("WEIGHTWATCH_VLLM_PYTHON", Path(__file__).parents[2] / ".venv-vllm/bin/python")
)
PROMPTS, TOKENS, ALPHA = 16, 96, 1e-3
PARAMS = {"gamma": 0.25, "delta": 2.0}


def generate(model: Path, env: dict[str, str], mode: str) -> list[list[int]]:
    script = ROOT / "tests" / "watermark" / "vllm_generate.py"
    r = subprocess.run(
        [str(VLLM_PYTHON), str(script), str(model), str(PROMPTS), str(TOKENS), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
    assert r.returncode == 0 and lines, r.stderr[-4000:]
    return json.loads(lines[-1])["token_ids"]  # type: ignore[no-any-return]


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_generation_is_detected(llama_family, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not VLLM_PYTHON.is_file():
        pytest.skip(f"no vLLM environment at {VLLM_PYTHON} (make vllm-env)")
    master = tmp_path / "master.json"
    MasterSecret.generate().save(master)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "HF_HUB_OFFLINE": "1",
        vp.ENV_MASTER: str(master),
        vp.ENV_DEPLOYMENT: "vllm-test",
        vp.ENV_SCHEME: "kgw",
        vp.ENV_PARAMS: json.dumps(PARAMS),
    }
    scheme, key = vp.config_from_env(env)
    assert scheme.describe() == get_scheme("kgw", **PARAMS).describe()
    marked = generate(llama_family.base, env, "watermark")
    plain = generate(llama_family.base, env, "plain")
    p_marked = [detect(ids, scheme=scheme, keys=key).p_value for ids in marked]
    p_plain = [detect(ids, scheme=scheme, keys=key).p_value for ids in plain]
    tpr = sum(p < ALPHA for p in p_marked) / PROMPTS
    fpr = sum(p < ALPHA for p in p_plain) / PROMPTS
    print(json.dumps({"tpr": tpr, "fpr": fpr, "p_marked": p_marked, "p_plain": p_plain}))
    assert tpr >= 0.9  # docs/watermark-vllm.md: TPR at alpha 1e-3, 96 tokens, delta 2
    assert fpr == 0.0
