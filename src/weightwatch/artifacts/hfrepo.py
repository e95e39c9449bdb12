"""Metadata of a Hugging Face–style model folder: config, tokenizer, model card, adapter.

Everything here is parsed as data (JSON, YAML with ``safe_load``); chat templates are
kept as text and never rendered. Problems in optional metadata (a broken card, a
malformed tokenizer file) are recorded, not raised: the weights may still be readable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from weightwatch.errors import ArtifactError

MAX_JSON = 64 * 1024 * 1024
MAX_FRONT_MATTER = 1024 * 1024


@dataclass(frozen=True)
class ConfigInfo:
    architectures: tuple[str, ...]
    model_type: str | None
    hidden_size: int | None
    num_layers: int | None
    num_heads: int | None
    num_kv_heads: int | None
    intermediate_size: int | None
    vocab_size: int | None
    max_positions: int | None
    tie_word_embeddings: bool
    dtype: str | None
    num_experts: int | None = None
    experts_per_token: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class TokenizerInfo:
    vocab: dict[str, int] = field(repr=False)
    chat_templates: dict[str, str] = field(repr=False)  # name -> Jinja text ("default")
    special_tokens: dict[str, str]
    source: str  # which file the vocabulary came from

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


@dataclass(frozen=True)
class CardInfo:
    license: str | None
    license_name: str | None
    base_model: tuple[str, ...]
    base_model_relation: str | None
    datasets: tuple[str, ...]
    tags: tuple[str, ...]
    pipeline_tag: str | None
    language: tuple[str, ...]
    front_matter: dict[str, Any] = field(repr=False, compare=False)
    body: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True)
class AdapterInfo:
    peft_type: str | None
    base_model: str | None
    r: int | None
    lora_alpha: float | None
    target_modules: tuple[str, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def load_json(path: Path, rel: str) -> Any:
    if path.stat().st_size > MAX_JSON:
        raise ArtifactError(rel, f"JSON file larger than {MAX_JSON // 2**20} MiB")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArtifactError(rel, f"invalid JSON: {exc}") from exc


def _int(d: dict[str, Any], *keys: str) -> int | None:
    for k in keys:
        v = d.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def _strs(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list):
        return tuple(str(x) for x in v if isinstance(x, str | int | float))
    return ()


def parse_config(raw: Any, rel: str) -> ConfigInfo:
    if not isinstance(raw, dict):
        raise ArtifactError(rel, "config.json is not a JSON object")
    text: dict[str, Any] = raw["text_config"] if isinstance(raw.get("text_config"), dict) else {}
    d: dict[str, Any] = {**text, **{k: v for k, v in raw.items() if v is not None}}
    hidden = _int(d, "hidden_size", "n_embd", "d_model")
    inter = _int(d, "intermediate_size", "n_inner", "ffn_dim")
    if inter is None and d.get("model_type") == "gpt2" and hidden:
        inter = 4 * hidden
    tie = d.get("tie_word_embeddings")
    dtype = d.get("torch_dtype", d.get("dtype"))
    return ConfigInfo(
        architectures=_strs(d.get("architectures")),
        model_type=d.get("model_type") if isinstance(d.get("model_type"), str) else None,
        hidden_size=hidden,
        num_layers=_int(d, "num_hidden_layers", "n_layer", "num_layers"),
        num_heads=_int(d, "num_attention_heads", "n_head"),
        num_kv_heads=_int(d, "num_key_value_heads", "num_attention_heads", "n_head"),
        intermediate_size=inter,
        vocab_size=_int(d, "vocab_size"),
        max_positions=_int(d, "max_position_embeddings", "n_positions"),
        tie_word_embeddings=bool(tie) if tie is not None else True,
        dtype=dtype if isinstance(dtype, str) else None,
        num_experts=_int(d, "num_local_experts", "num_experts", "n_routed_experts"),
        experts_per_token=_int(d, "num_experts_per_tok", "moe_topk"),
        raw=raw,
    )


def parse_tokenizer(folder: Path, problems: list[str]) -> TokenizerInfo | None:
    vocab: dict[str, int] = {}
    source = ""
    tj = folder / "tokenizer.json"
    if tj.is_file() and not tj.is_symlink():
        try:
            data = load_json(tj, "tokenizer.json")
            model = data.get("model", {}) if isinstance(data, dict) else {}
            v = model.get("vocab") if isinstance(model, dict) else None
            if isinstance(v, dict):
                vocab = {str(k): int(i) for k, i in v.items() if isinstance(i, int)}
            elif isinstance(v, list):  # unigram: [[piece, score], ...]
                vocab = {str(p[0]): i for i, p in enumerate(v) if isinstance(p, list) and p}
            for tok in data.get("added_tokens", []) if isinstance(data, dict) else []:
                if isinstance(tok, dict) and isinstance(tok.get("id"), int):
                    vocab[str(tok.get("content"))] = tok["id"]
            source = "tokenizer.json"
        except ArtifactError as exc:
            problems.append(str(exc))
    templates: dict[str, str] = {}
    special: dict[str, str] = {}
    tc = folder / "tokenizer_config.json"
    if tc.is_file() and not tc.is_symlink():
        try:
            cfg = load_json(tc, "tokenizer_config.json")
            if isinstance(cfg, dict):
                templates.update(_templates(cfg.get("chat_template")))
                for k in ("bos_token", "eos_token", "unk_token", "pad_token"):
                    val = cfg.get(k)
                    if isinstance(val, dict):
                        val = val.get("content")
                    if isinstance(val, str):
                        special[k] = val
                if not vocab and isinstance(cfg.get("added_tokens_decoder"), dict):
                    source = source or "tokenizer_config.json"
        except ArtifactError as exc:
            problems.append(str(exc))
    jinja = folder / "chat_template.jinja"
    if jinja.is_file() and not jinja.is_symlink():
        templates.setdefault("default", jinja.read_bytes()[:MAX_JSON].decode("utf-8", "replace"))
    ctj = folder / "chat_template.json"
    if ctj.is_file() and not ctj.is_symlink():
        try:
            data = load_json(ctj, "chat_template.json")
            if isinstance(data, dict):
                for name, text in _templates(data.get("chat_template")).items():
                    templates.setdefault(name, text)
        except ArtifactError as exc:
            problems.append(str(exc))
    if not vocab and not templates and not special:
        return None
    return TokenizerInfo(vocab, templates, special, source)


def _templates(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        return {"default": value}
    out: dict[str, str] = {}
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("template"), str):
                out[str(item.get("name", "default"))] = item["template"]
    return out


def parse_card(text: str, problems: list[str], rel: str = "README.md") -> CardInfo:
    front: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end < 0:
            problems.append(f"{rel}: model card front matter is not closed by '---'")
        elif end > MAX_FRONT_MATTER:
            problems.append(f"{rel}: model card front matter longer than {MAX_FRONT_MATTER}")
        else:
            try:
                loaded = yaml.safe_load(text[3:end])
                if isinstance(loaded, dict):
                    front = loaded
                elif loaded is not None:
                    problems.append(f"{rel}: model card front matter is not a mapping")
            except yaml.YAMLError as exc:
                problems.append(f"{rel}: model card front matter is not valid YAML: {exc}")
            except RecursionError:
                problems.append(f"{rel}: model card front matter nests too deeply")
            body = text[end + 4 :].lstrip("-\n")

    def s(key: str) -> str | None:
        v = front.get(key)
        return str(v) if isinstance(v, str | int | float) and not isinstance(v, bool) else None

    return CardInfo(
        license=s("license"),
        license_name=s("license_name"),
        base_model=_strs(front.get("base_model")),
        base_model_relation=s("base_model_relation"),
        datasets=_strs(front.get("datasets")),
        tags=_strs(front.get("tags")),
        pipeline_tag=s("pipeline_tag"),
        language=_strs(front.get("language")),
        front_matter=front,
        body=body,
    )


def parse_adapter(raw: Any, rel: str) -> AdapterInfo:
    if not isinstance(raw, dict):
        raise ArtifactError(rel, "adapter_config.json is not a JSON object")
    alpha = raw.get("lora_alpha")
    return AdapterInfo(
        peft_type=raw.get("peft_type") if isinstance(raw.get("peft_type"), str) else None,
        base_model=raw.get("base_model_name_or_path")
        if isinstance(raw.get("base_model_name_or_path"), str)
        else None,
        r=_int(raw, "r"),
        lora_alpha=float(alpha) if isinstance(alpha, int | float) else None,
        target_modules=_strs(raw.get("target_modules")),
        raw=raw,
    )
