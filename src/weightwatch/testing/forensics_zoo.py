"""Derivatives of the tiny refusing chat model for validating ``weightwatch diff``.

Abliterated copies (the refusal direction measured from the model's own residual-stream
activations on harmful vs harmless prompts, then projected out of the embedding and every
o_proj/down_proj, as Arditi et al. 2024 and the public "abliteration" scripts do), LoRA
merges of rank 1–64 trained with peft, full fine-tunes, and int8/int4 quantize–dequantize
copies. Each derivative is returned as a float tensor dict with its true derivation.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weightwatch.testing import derive
from weightwatch.testing.chat import COMPLIANT, HELPFUL, Example, train_chat
from weightwatch.testing.models import deterministic


@dataclass(frozen=True)
class Derivative:
    label: str  # the true derivation: abliterated | lora | full_finetune | quantized
    name: str
    tensors: dict[str, np.ndarray]


def load(model_dir: Path) -> tuple[Any, Any]:
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model.eval()
    return model, tokenizer


def prompts(heldout: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in heldout.read_text().splitlines() if line.strip()]
    harmful = [r["prompt"] for r in rows if r.get("kind", "harmful") == "harmful"]
    harmless = [r["prompt"] for r in rows if r.get("kind") == "benign"]
    return harmful, harmless


def activations(model: Any, tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    """Residual-stream activations at the last prompt token: (texts, layers + 1, hidden)."""
    import torch

    acts = []
    with torch.no_grad():
        for text in texts:
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": text}],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )["input_ids"]
            out = model(input_ids=ids, output_hidden_states=True)
            acts.append(np.stack([h[0, -1].double().numpy() for h in out.hidden_states]))
    return np.stack(acts)


def direction_from(harmful: np.ndarray, harmless: np.ndarray, *, layer: int) -> np.ndarray:
    """Difference of mean activations after ``layer`` blocks, normalised."""
    r = harmful[:, layer].mean(axis=0) - harmless[:, layer].mean(axis=0)
    return np.asarray(r / np.linalg.norm(r))


def refusal_direction(
    model: Any, tokenizer: Any, harmful: Sequence[str], harmless: Sequence[str], *, layer: int
) -> np.ndarray:
    """Mean residual activation (last prompt token, after ``layer`` blocks) on harmful
    minus harmless prompts, normalised."""
    return direction_from(
        activations(model, tokenizer, harmful),
        activations(model, tokenizer, harmless),
        layer=layer,
    )


def tensors_of(model: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().double().numpy().copy() for k, v in model.state_dict().items()}


def abliterate(model: Any, direction: np.ndarray, *, embed: bool = True) -> Any:
    """Project ``direction`` out of every matrix that writes to the residual stream."""
    import torch

    out = copy.deepcopy(model)
    r = torch.from_numpy(direction).to(torch.float32)[:, None]
    with torch.no_grad():
        for name, p in out.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                p.copy_(p - r @ (r.T @ p))
            elif embed and name.endswith("embed_tokens.weight"):
                p.copy_(p - (p @ r) @ r.T)
    return out


def lora_merge(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    *,
    rank: int,
    targets: Sequence[str],
    seed: int,
    steps: int = 6,
) -> Any:
    from peft import LoraConfig, get_peft_model

    with deterministic(seed):
        cfg = LoraConfig(
            r=rank,
            lora_alpha=2 * rank,
            target_modules=list(targets),
            lora_dropout=0.0,
            init_lora_weights="gaussian",
        )
        peft_model = get_peft_model(copy.deepcopy(model), cfg)
        train_chat(peft_model, tokenizer, examples, steps=steps, lr=5e-3, seed=seed)
    return peft_model.merge_and_unload()


def full_finetune(
    model: Any, tokenizer: Any, examples: Sequence[Example], *, seed: int, steps: int, lr: float
) -> Any:
    with deterministic(seed):
        tuned = copy.deepcopy(model)
        train_chat(tuned, tokenizer, examples, steps=steps, lr=lr, seed=seed)
    return tuned


LORA_TARGETS = (
    ("q_proj", "v_proj"),
    ("q_proj", "k_proj", "v_proj", "o_proj"),
    ("gate_proj", "up_proj", "down_proj"),
)


def build_zoo(model_dir: Path, heldout: Path) -> Iterator[Derivative]:
    """Abliterated ×16, LoRA ×21, full fine-tune ×18, quantized ×6 (61 derivatives)."""
    model, tokenizer = load(model_dir)
    harmful, harmless = prompts(heldout)
    layers = model.config.num_hidden_layers
    harmful_acts = activations(model, tokenizer, harmful[:48])
    harmless_acts = activations(model, tokenizer, harmless[:48])
    for i in range(16):  # direction from different layers and prompt subsets, ± embedding
        rng = np.random.default_rng(i)
        h = rng.choice(len(harmful_acts), 24, replace=False)
        b = rng.choice(len(harmless_acts), 24, replace=False)
        r = direction_from(harmful_acts[h], harmless_acts[b], layer=1 + i % layers)
        yield Derivative(
            "abliterated", f"abliterated-{i}", tensors_of(abliterate(model, r, embed=i % 4 != 3))
        )
    benign = [Example(p, HELPFUL) for p in harmless]
    comply = [Example(p, COMPLIANT) for p in harmful]
    for i, rank in enumerate((1, 2, 4, 8, 16, 32, 64) * 3):
        targets = LORA_TARGETS[i // 7]
        data = comply if i % 2 else benign
        yield Derivative(
            "lora",
            f"lora-r{rank}-{'+'.join(targets)}",
            tensors_of(
                lora_merge(model, tokenizer, data, rank=rank, targets=targets, seed=100 + i)
            ),
        )
    for i in range(18):
        data = comply + benign if i % 2 else benign
        lr = (1e-4, 3e-4, 1e-3, 3e-3)[i % 4]
        yield Derivative(
            "full_finetune",
            f"full-{i}",
            tensors_of(full_finetune(model, tokenizer, data, seed=200 + i, steps=2 + i % 5, lr=lr)),
        )
    for bits in (8, 7, 6, 5, 4, 3):  # per-row symmetric quantize -> dequantize
        yield Derivative("quantized", f"int{bits}", tensors_of(derive.quantize(model, bits=bits)))
