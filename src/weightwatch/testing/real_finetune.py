"""Real fine-tunes of a real model: SmolLM2-135M, trained on real text, saved as safetensors.

The base is the real GGUF (``make real-models``), loaded into transformers through its
GGUF loader (every tensor dequantized to float32, the tokenizer rebuilt from the file's
own vocabulary and merges) — or, when the caller has it, that same load already saved as
a float32 folder (``wm_eval_real.gguf_to_folder``): the loader spends ~34 CPU seconds
dequantizing in Python, the folder opens in one or two. Two recipes, as people fine-tune:

- ``full``: every weight trained with AdamW (no weight decay) at a fine-tuning learning
  rate, on next-token prediction over random windows of the shipped real text
  (``testing.corpus``: CPython's docstrings);
- ``lora``: a peft LoRA adapter on every attention and MLP projection, trained the same
  way, then merged into the weights (``merge_and_unload``).

The result is a Hugging Face folder (``model.safetensors``, config, tokenizer, a card
naming the base) plus ``recipe.json`` with the loss curve and the CPU seconds spent. It is
built in a child process (a 135M model in float32 with AdamW's state peaks near 3 GiB;
the child gives that memory back) and cached in the fixture cache under a key naming the
recipe, the base's SHA-256 and the library versions. ``python -m
weightwatch.testing.real_finetune full|lora STEPS`` builds one (``make real-finetune``
the longer ones).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from weightwatch.testing.family import _cache_key, cached, default_cache

FINETUNE_VERSION = 2  # 2: may start from the float32 folder of the GGUF
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class BuildError(RuntimeError):
    """The child process that trains the fine-tune failed."""


@dataclass(frozen=True)
class Recipe:
    method: Literal["full", "lora"]
    steps: int
    lr: float
    batch: int = 2
    seq: int = 32
    seed: int = 0
    domain: str = "a"
    rank: int = 8  # LoRA only
    alpha: int = 16  # LoRA only


# What ``make test`` affords (a step is ~1.6 s of CPU for the full fine-tune, ~0.9 s for
# LoRA, on one thread here), and the longer runs of ``make real-finetune``. LoRA at a
# usual LoRA rate: 24 steps at 2e-4 moved the block weights by 0.09% (relative Frobenius)
# in a low-rank direction, which the fingerprint, stored in float16, cannot tell from an
# F16 re-export (score 0.9999942 against 0.9999963: both "identical"); docs/lineage.md.
TEST_FULL = Recipe("full", steps=24, lr=3e-5)
TEST_LORA = Recipe("lora", steps=48, lr=3e-4)
LONG_FULL = replace(TEST_FULL, steps=200)
LONG_LORA = replace(TEST_LORA, steps=200)


def real_tokenizer(gguf_path: Path) -> Any:
    """The tokenizer stored in a GGUF, as a ``PreTrainedTokenizerFast`` (no hub)."""
    import transformers

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers.utils.logging.disable_progress_bar()
    return transformers.AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)


def source_digest(path: Path) -> str:
    from weightwatch.identity.hashing import hash_file

    return hash_file(path, "sha256")


def build_finetune(
    base_gguf: Path, recipe: Recipe, *, cache: Path | None = None, f32: Path | None = None
) -> Path:
    """The fine-tune of ``base_gguf`` by ``recipe``: a folder, built once and cached.
    ``f32``: the GGUF already loaded and saved as a float32 folder, to start from instead
    of loading the GGUF again (the same weights and tokenizer, so the same cache key)."""
    cache = cache or default_cache()
    blob = [FINETUNE_VERSION, asdict(recipe), source_digest(base_gguf)]
    blob.append(_cache_key("llama", "real-finetune", 0))
    key = (
        f"realft-{recipe.method}-{recipe.steps}-"
        + hashlib.sha256(json.dumps(blob).encode()).hexdigest()[:12]
    )
    return cached(cache, key, lambda tmp: _spawn(f32 or base_gguf, recipe, tmp))


def _spawn(base: Path, recipe: Recipe, out: Path) -> None:
    cmd = [sys.executable, "-m", "weightwatch.testing.real_finetune", "--build"]
    cmd += [str(base), json.dumps(asdict(recipe)), str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    run = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if run.returncode != 0:
        raise BuildError(f"fine-tune {recipe} of {base} failed: {run.stderr[-2000:]}")


def train_in_process(base: Path, recipe: Recipe, out: Path) -> dict[str, Any]:
    """Load (the GGUF file, or the float32 folder made from it), fine-tune and save (what
    the child process runs)."""
    import torch
    import transformers

    from weightwatch.testing.models import card

    transformers.utils.logging.disable_progress_bar()
    # One thread: on a shared 2-core machine two OpenMP threads spin-wait each other into
    # ~8x the CPU time per step (measured: 14 s against 1.6 s).
    torch.set_num_threads(1)
    started = time.process_time()
    if base.is_dir():
        tok = transformers.AutoTokenizer.from_pretrained(base)
        model: Any = transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    else:
        tok = real_tokenizer(base)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            base.parent, gguf_file=base.name, dtype=torch.float32
        )
    loaded = time.process_time() - started
    torch.manual_seed(recipe.seed)
    if recipe.method == "lora":
        from peft import LoraConfig, get_peft_model

        cfg = LoraConfig(r=recipe.rank, lora_alpha=recipe.alpha, target_modules=list(LORA_TARGETS))
        model = get_peft_model(model, cfg)
    losses = train(model, tok, recipe)
    if recipe.method == "lora":
        model = model.merge_and_unload()
    trained = time.process_time() - started - loaded
    # Loaded from a GGUF, the model still carries transformers' GGUF "quantizer", which
    # refuses to save; its weights are plain float32 nn.Linear (dequantized on load, and
    # trained as such), so drop the marker and save them as what they are.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / "README.md").write_text(
        card(
            name=f"smollm2-135m-{recipe.method}-{recipe.steps}",
            base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
            relation="finetune",
            extra=f"SmolLM2-135M-Instruct fine-tuned ({recipe.method}) for {recipe.steps} "
            "steps on CPython docstrings by weightwatch's tests.",
        )
    )
    record = {
        "recipe": asdict(recipe),
        "loss": losses,
        "cpu_s_load": round(loaded, 1),
        "cpu_s_train": round(trained, 1),
        "torch_threads": torch.get_num_threads(),
    }
    (out / "recipe.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def train(model: Any, tok: Any, recipe: Recipe) -> list[float]:
    """AdamW on random windows of the real text; returns the loss per step."""
    import torch

    from weightwatch.testing.models import token_stream

    data = token_stream(tok, recipe.domain)
    rng = np.random.default_rng(recipe.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    # foreach=False: one tensor at a time, so no full-size temporaries next to the state.
    opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=0.0, foreach=False)
    model.train()
    losses = []
    for _ in range(recipe.steps):
        starts = rng.integers(0, len(data) - recipe.seq - 1, size=recipe.batch)
        batch = torch.from_numpy(np.stack([data[s : s + recipe.seq] for s in starts]))
        out = model(input_ids=batch, labels=batch)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)
        losses.append(round(float(out.loss.detach()), 4))
    model.eval()
    return losses


def main(argv: list[str]) -> int:
    if argv[:1] == ["--build"]:
        base, spec, out = argv[1:4]
        train_in_process(Path(base), Recipe(**json.loads(spec)), Path(out))
        return 0
    from weightwatch.testing.real_models import fetch

    if len(argv) != 2 or argv[0] not in ("full", "lora"):
        print("usage: python -m weightwatch.testing.real_finetune full|lora STEPS", file=sys.stderr)
        return 2
    recipe = replace(TEST_FULL if argv[0] == "full" else TEST_LORA, steps=int(argv[1]))
    name = "smollm2-135m-instruct-q4_1"
    path = build_finetune(fetch(names=[name])[name], recipe)
    print(path)
    print((path / "recipe.json").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
