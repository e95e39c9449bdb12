"""Watermarked generation with a local transformers model folder (the CLI's ``generate``).

A convenience for trying a scheme end to end and for the evaluation harness; serving
stacks call ``WatermarkLogitsProcessor`` (or the vLLM recipe in docs/watermark.md)
themselves. torch and transformers are imported lazily (the ``[hf]`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from weightwatch.errors import ArtifactError, UsageError
from weightwatch.watermark.hf import WatermarkLogitsProcessor
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.scheme import WatermarkScheme

GENERATION_FORMAT = "weightwatch-watermark-generation/1"


class Generation(BaseModel):
    """One watermarked completion: what ``weightwatch watermark detect`` reads back.

    ``token_ids`` are the generated tokens only (no prompt) — the detector's input.
    """

    model_config = ConfigDict(frozen=True)

    format: Literal["weightwatch-watermark-generation/1"] = "weightwatch-watermark-generation/1"
    scheme: str
    params: dict[str, str | int | float]
    key_id: str
    prompt: str
    token_ids: tuple[int, ...]
    text: str


def _hf() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise UsageError(
            "generation needs torch and transformers", hint="install weightwatch[hf]"
        ) from exc
    return torch, transformers


def load_model(model_dir: str | Path) -> tuple[Any, Any]:
    """A causal LM and its tokenizer from a local folder (never from the network)."""
    _, transformers = _hf()
    transformers.utils.logging.disable_progress_bar()
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise ArtifactError(path, "not a model folder (no config.json)")
    try:
        tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(path, f"cannot load model or tokenizer: {exc}") from exc
    model.eval()
    return model, tok


def generate(
    model: Any,
    tokenizer: Any,
    prompt: str,
    *,
    scheme: WatermarkScheme,
    key: WatermarkKey,
    max_new_tokens: int = 200,
    top_k: int | None = None,
    seed: int | None = None,
) -> Generation:
    """Sample a watermarked completion of ``prompt`` (EOS may end it early)."""
    torch, _ = _hf()
    if max_new_tokens < 1:
        raise UsageError("max_new_tokens must be at least 1")
    processor = WatermarkLogitsProcessor(scheme, key, top_k=top_k)
    enc = tokenizer(prompt, return_tensors="pt")
    ids = enc["input_ids"]
    if ids.shape[1] == 0:
        raise UsageError("the prompt is empty after tokenization")
    if seed is not None:
        torch.manual_seed(seed)
    sampler = scheme.kind != "sampler"  # a sampler scheme leaves one token: decode greedily
    with torch.no_grad():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            logits_processor=[processor],
            max_new_tokens=max_new_tokens,
            do_sample=sampler,
            top_k=0 if sampler else None,
            temperature=1.0 if sampler else None,
            top_p=1.0 if sampler else None,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id or 0,
        )
    new = [int(t) for t in out[0, ids.shape[1] :].tolist()]
    return Generation(
        scheme=scheme.name,
        params={k: v for k, v in scheme.describe().items() if k != "name"},
        key_id=key.key_id,
        prompt=prompt,
        token_ids=tuple(new),
        text=tokenizer.decode(new, skip_special_tokens=True),
    )


__all__ = ["GENERATION_FORMAT", "Generation", "generate", "load_model"]
