"""``weightwatch inspect PATH``: what a model artifact holds, read without executing it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from weightwatch.artifacts import open_artifact
from weightwatch.artifacts.report import ArtifactSummary, summarize
from weightwatch.cli.output import console as new_console


def inspect_command(
    path: Annotated[Path, typer.Argument(help="A model file or a Hugging Face–style folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """List files, formats, tensors, parameters, dtypes, architecture and card metadata."""
    summary = summarize(open_artifact(path), path=str(path))
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        render(summary, new_console())


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def _count(n: int) -> str:
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.2f}{suffix} ({n:,})"
    return f"{n:,}"


def render(s: ArtifactSummary, console: Console) -> None:
    overview = Table.grid(padding=(0, 2))
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("path", s.path)
    overview.add_row("family", s.family or "unknown")
    if s.config and s.config.architectures:
        overview.add_row("architecture", ", ".join(s.config.architectures))
    if s.config:
        c = s.config
        dims = [
            f"hidden {c.hidden_size}",
            f"layers {c.num_layers}",
            f"heads {c.num_heads}/{c.num_kv_heads} kv",
            f"ffn {c.intermediate_size}",
            f"vocab {c.vocab_size}",
        ]
        if c.num_experts:
            dims.append(f"experts {c.num_experts} (top-{c.experts_per_token})")
        overview.add_row("shape", ", ".join(dims))
    overview.add_row("parameters", _count(s.parameter_count))
    overview.add_row("tensors", f"{s.tensor_count} in {', '.join(s.primary_files) or '-'}")
    overview.add_row(
        "dtypes", ", ".join(f"{k} {_size(v)}" for k, v in sorted(s.bytes_by_dtype.items())) or "-"
    )
    if s.tied_weights:
        overview.add_row("tied", ", ".join(f"{b} = {a}" for a, b in s.tied_weights))
    if s.tokenizer:
        t = s.tokenizer
        chat = ", ".join(t.chat_templates) if t.chat_templates else "none"
        overview.add_row("tokenizer", f"{t.vocab_size} tokens ({t.source}); chat template: {chat}")
        if t.special_tokens:
            overview.add_row(
                "special",
                ", ".join(
                    f"{k.removesuffix('_token')} {escape(repr(v))}"
                    + (f" ({t.special_token_ids[k]})" if k in t.special_token_ids else "")
                    for k, v in t.special_tokens.items()
                ),
            )
    if s.license_source and s.license_source != "card":
        overview.add_row("license", f"{s.license} ({s.license_source})")
    if s.card:
        c2 = s.card
        overview.add_row("license", c2.license or "not declared")
        if c2.base_model:
            rel = f" ({c2.base_model_relation})" if c2.base_model_relation else ""
            overview.add_row("base model", ", ".join(c2.base_model) + rel)
        if c2.datasets:
            overview.add_row("datasets", ", ".join(c2.datasets))
        if c2.tags:
            overview.add_row("tags", ", ".join(c2.tags))
    if s.adapter:
        a = s.adapter
        overview.add_row(
            "adapter",
            f"{a.peft_type} r={a.r} alpha={a.lora_alpha} on {a.base_model}; "
            f"targets {', '.join(a.target_modules)}",
        )
    if s.gguf_metadata:
        keys = ("general.architecture", "general.name", "general.file_type")
        shown = {k: s.gguf_metadata[k] for k in keys if k in s.gguf_metadata}
        overview.add_row("gguf", ", ".join(f"{k}={v}" for k, v in shown.items()) or "-")
    console.print(overview)
    files = Table(title="files", title_justify="left")
    files.add_column("path")
    files.add_column("format")
    files.add_column("size", justify="right")
    files.add_column("tensors", justify="right")
    files.add_column("note")
    for f in s.files:
        files.add_row(
            escape(f.path),
            f.format,
            _size(f.size),
            "" if f.tensors is None else str(f.tensors),
            ("primary weights" if f.path in s.primary_files else "")
            + (f" {f.detail}" if f.detail else ""),
        )
    console.print(files)
    for p in s.problems:
        console.print(f"[yellow]problem:[/yellow] {escape(p)}")


def register(app: typer.Typer) -> None:
    """Attach ``inspect``."""
    app.command("inspect")(inspect_command)
