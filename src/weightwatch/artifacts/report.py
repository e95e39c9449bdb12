"""``ArtifactSummary``: the stable JSON form of what ``weightwatch inspect`` shows."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from weightwatch.artifacts.artifact import Artifact
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
        config=_copy(c, ConfigSummary),
        tokenizer=None
        if t is None
        else TokenizerSummary(
            source=t.source,
            vocab_size=t.vocab_size,
            chat_templates=sorted(t.chat_templates),
            special_tokens=t.special_tokens,
        ),
        card=_copy(card, CardSummary),
        adapter=_copy(ad, AdapterSummary),
        gguf_metadata=art.gguf_metadata,
        problems=list(art.problems),
    )
