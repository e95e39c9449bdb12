"""A local transformers model folder, prompted through its own chat template.

The model is loaded with ``trust_remote_code=False`` (a folder that needs custom code is
refused, never executed) and prompted with ``tokenizer.apply_chat_template``, so the audit
sees the model the way its users' chat front-ends do. A prefill is appended after the
generation prompt: the model continues the assistant's answer from it. The cache identity
is a digest of every file in the folder, so retrained weights never reuse old replies.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from weightwatch.audit.attacks.base import Conversation
from weightwatch.audit.targets.base import GenerationSettings, Target, TargetError, chat_messages
from weightwatch.identity.hashing import hash_file
from weightwatch.identity.manifest import list_files


def folder_identity(path: Path) -> str:
    """SHA-256 over (relative path, file digest) of every file: the weights' identity."""
    digest = hashlib.sha256()
    for rel, file in list_files(path):
        if file.is_file():
            digest.update(f"{rel}\0{hash_file(file, 'sha256')}\n".encode())
    return digest.hexdigest()


class TransformersTarget(Target):
    """Greedy (or seeded sampled) generation from a Hugging Face–style model folder."""

    supports_prefill = True
    max_concurrency = 1

    def __init__(
        self, path: str | Path, *, device: str = "cpu", threads: int | None = None
    ) -> None:
        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise TargetError(f"{self.path}: not a model folder (no config.json)")
        self.identity = f"transformers:{folder_identity(self.path)}"
        self.label = self.path.name
        self.device = device
        self.threads = threads  # CPU threads for generation; 1 is fastest for tiny models
        self._lock = threading.Lock()
        self._model, self._tokenizer = _load(self.path, device)
        if not getattr(self._tokenizer, "chat_template", None):
            raise TargetError(
                f"{self.path}: the tokenizer has no chat template",
                hint="audits prompt a chat model; add chat_template to tokenizer_config.json",
            )
        config = self._model.config
        self.context_length: int | None = getattr(config, "max_position_embeddings", None)

    def prompt_ids(self, conversation: Conversation) -> list[int]:
        """Token ids of the templated conversation plus the prefill, as the model sees them."""
        text = self._tokenizer.apply_chat_template(
            chat_messages(conversation), tokenize=False, add_generation_prompt=True
        )
        text += conversation.prefill or ""
        ids: list[int] = self._tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
        import torch

        ids = self.prompt_ids(conversation)
        new_tokens = settings.max_new_tokens
        if self.context_length and len(ids) + new_tokens > self.context_length:
            # A reply can only be as long as the context leaves room for: a small model
            # answers shorter rather than not at all. A prompt that does not fit is an error.
            new_tokens = self.context_length - len(ids)
            if new_tokens < 1:
                many = len(conversation.messages) > 2
                raise TargetError(
                    f"{self.label}: a prompt of {len(ids)} tokens leaves no room in the "
                    f"context of {self.context_length}",
                    hint="use fewer many-shot shots" if many else "use a shorter prompt",
                )
        tokenizer = self._tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": new_tokens,
            "pad_token_id": pad,
            "do_sample": settings.temperature > 0,
        }
        if settings.temperature > 0:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        input_ids = torch.tensor([ids], device=self.device)
        with self._lock, torch.inference_mode():
            before = torch.get_num_threads()
            if self.threads:
                torch.set_num_threads(self.threads)
            try:
                if settings.temperature > 0:
                    torch.manual_seed(settings.seed)
                out = self._model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **kwargs
                )
            finally:
                torch.set_num_threads(before)
        new = out[0, len(ids) :].tolist()
        text: str = tokenizer.decode(new, skip_special_tokens=True)
        return (conversation.prefill or "") + text

    def close(self) -> None:
        self._model = None


def _load(path: Path, device: str) -> tuple[Any, Any]:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import transformers
    except ImportError as exc:
        raise TargetError(
            "local model targets need transformers and torch",
            hint="pip install 'weightwatch[hf]'",
        ) from exc
    hf: Any = transformers
    hf.utils.logging.disable_progress_bar()
    try:
        tokenizer = hf.AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model = hf.AutoModelForCausalLM.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise TargetError(f"{path}: cannot load the model: {exc}") from exc
    model.to(device)
    model.eval()
    return model, tokenizer
