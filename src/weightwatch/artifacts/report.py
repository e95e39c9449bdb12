"""``ArtifactSummary``: the stable JSON form of what ``weightwatch inspect`` shows."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, Field

from weightwatch.artifacts.artifact import Artifact
from weightwatch.artifacts.declared import declared_licence
from weightwatch.reports import Record, Report


class FileSummary(Record):
    path: str
    size: int
    format: str
    detail: str = ""
    tensors: int | None = None


class ConfigSummary(Record):
    architectures: list[str]
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
    num_experts: int | None
    experts_per_token: int | None


class TokenizerSummary(Record):
    source: str
    vocab_size: int
    chat_templates: list[str]
    special_tokens: dict[str, str]
    special_token_ids: dict[str, int] = Field(default_factory=dict)  # the same roles, as ids


class CardSummary(Record):
    license: str | None
    license_name: str | None
    base_model: list[str]
    base_model_relation: str | None
    datasets: list[str]
    tags: list[str]
    pipeline_tag: str | None
    language: list[str]


class AdapterSummary(Record):
    peft_type: str | None
    base_model: str | None
    r: int | None
    lora_alpha: float | None
    target_modules: list[str]


class ArtifactSummary(Report):
    path: str
    kind: str  # "folder" | "file"
    family: str | None
    files: list[FileSummary]
    primary_files: list[str]
    tensor_count: int
    parameter_count: int
    bytes_by_dtype: dict[str, int]
    params_by_dtype: dict[str, int]
    tied_weights: list[tuple[str, str]]
    config: ConfigSummary | None
    tokenizer: TokenizerSummary | None
    card: CardSummary | None
    adapter: AdapterSummary | None
    gguf_metadata: dict[str, Any] | None
    problems: list[str]
    license: str | None = None  # the card's, else a GGUF's general.license
    license_source: str | None = None  # "card" | "gguf:general.license"


_M = TypeVar("_M", bound=BaseModel)


def _copy(source: object | None, model: type[_M]) -> _M | None:
    """The summary model's fields, read off the parsed metadata of the same names."""
    if source is None:
        return None
    return model.model_validate({name: getattr(source, name) for name in model.model_fields})


def summarize(art: Artifact, *, path: str | None = None) -> ArtifactSummary:
    """Everything ``inspect`` reports, as one JSON-ready value."""
    totals = art.totals
    c, t, card, ad = art.config, art.tokenizer, art.card, art.adapter
    lic = declared_licence(art)
    counts = {f: len(list(art.iter_tensors(file=f))) for f in art.weight_files}
    return ArtifactSummary(
        path=path or str(art.root if art.is_dir else art.root / art.files[0].path),
        kind="folder" if art.is_dir else "file",
        family=art.family,
        files=[
            FileSummary(
                path=f.path,
                size=f.size,
                format=f.format.value,
                detail=f.detail,
                tensors=counts.get(f.path),
            )
            for f in art.files
        ],
        primary_files=list(art.primary_files),
        tensor_count=totals.tensor_count,
        parameter_count=totals.parameter_count,
        bytes_by_dtype=totals.bytes_by_dtype,
        params_by_dtype=totals.params_by_dtype,
        tied_weights=[tuple(p) for p in totals.tied],
        config=_copy(c, ConfigSummary) or _gguf_config(art),
        tokenizer=None
        if t is None
        else TokenizerSummary(
            source=t.source,
            vocab_size=t.vocab_size,
            chat_templates=sorted(t.chat_templates),
            special_tokens=t.special_tokens,
            special_token_ids={
                k: t.vocab[v]
                for k, v in t.special_tokens.items()
                if isinstance(v, str) and v in t.vocab
            },
        ),
        card=_copy(card, CardSummary),
        adapter=_copy(ad, AdapterSummary),
        gguf_metadata=art.gguf_metadata,
        problems=list(art.problems),
        license=lic.license,
        license_source=lic.source,
    )


def _gguf_config(art: Artifact) -> ConfigSummary | None:
    """The shape a GGUF records under ``<arch>.*`` keys, as config.json would give it."""
    meta = art.gguf_metadata
    arch = meta.get("general.architecture") if meta else None
    if not meta or not isinstance(arch, str):
        return None

    def num(key: str) -> int | None:
        v = meta.get(f"{arch}.{key}")
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    tokens = art.tokenizer.vocab_size if art.tokenizer else None
    names = {t.name for t in art.iter_tensors()} if art.primary_files else set()
    return ConfigSummary(
        architectures=[f"{arch} (GGUF)"],
        model_type=arch,
        hidden_size=num("embedding_length"),
        num_layers=num("block_count"),
        num_heads=num("attention.head_count"),
        num_kv_heads=num("attention.head_count_kv") or num("attention.head_count"),
        intermediate_size=num("feed_forward_length"),
        vocab_size=num("vocab_size") or tokens,
        max_positions=num("context_length"),
        tie_word_embeddings="output.weight" not in names,
        dtype=None,
        num_experts=num("expert_count"),
        experts_per_token=num("expert_used_count"),
    )
