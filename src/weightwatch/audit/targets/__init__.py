"""Audit targets, the I/O edge of an audit: endpoints and local model runtimes.

``open_target`` picks one from what the user gave: an ``http(s)://`` endpoint plus model
name, a transformers model folder, or a ``.gguf`` file (optional llama-cpp-python).
"""

from __future__ import annotations

from pathlib import Path

from weightwatch.audit.targets.base import (
    GenerationSettings,
    Target,
    TargetError,
    chat_messages,
    check_prefill,
)
from weightwatch.audit.targets.http import OpenAITarget
from weightwatch.errors import UsageError


def open_target(
    *,
    endpoint: str | None = None,
    model: str | None = None,
    model_dir: str | Path | None = None,
    api_key: str | None = None,
    concurrency: int = 8,
    timeout_s: float = 120.0,
    device: str = "cpu",
    threads: int | None = None,
) -> Target:
    """An endpoint (``endpoint`` + ``model``) or a local model (``model_dir``), not both."""
    if (endpoint is None) == (model_dir is None):
        raise UsageError("give either an endpoint with a model name, or a model folder")
    if endpoint is not None:
        if not model:
            raise UsageError(f"{endpoint}: an endpoint needs a model name (--model)")
        return OpenAITarget(
            endpoint, model, api_key=api_key, concurrency=concurrency, timeout_s=timeout_s
        )
    path = Path(str(model_dir))
    if path.is_file() and path.suffix.lower() == ".gguf":
        from weightwatch.audit.targets.gguf import GGUFTarget

        return GGUFTarget(path)
    if not path.is_dir():
        raise UsageError(f"{path}: no such model folder or .gguf file")
    from weightwatch.audit.targets.local import TransformersTarget

    return TransformersTarget(path, device=device, threads=threads)


__all__ = [
    "GenerationSettings",
    "OpenAITarget",
    "Target",
    "TargetError",
    "chat_messages",
    "check_prefill",
    "open_target",
]
