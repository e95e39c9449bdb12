"""A GGUF file run by llama-cpp-python (the optional ``gguf`` extra).

The prompt is the file's own chat template (``tokenizer.chat_template`` metadata) rendered
in a sandboxed Jinja environment, so prefill works the same way as for transformers
models: the text is appended after the generation prompt and the model continues it.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any

from weightwatch.audit.attacks.base import Conversation
from weightwatch.audit.targets.base import GenerationSettings, Target, TargetError, chat_messages
from weightwatch.identity.hashing import hash_file

INSTALL_HINT = "pip install 'weightwatch[gguf]' (llama-cpp-python; compiles llama.cpp)"


class GGUFTarget(Target):
    supports_prefill = True
    max_concurrency = 1

    def __init__(self, path: str | Path, *, context_length: int = 4096) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise TargetError(f"{self.path}: no such GGUF file")
        try:
            llama_cpp: Any = importlib.import_module("llama_cpp")
        except ImportError as exc:
            raise TargetError(
                f"{self.path}: GGUF targets need llama-cpp-python", hint=INSTALL_HINT
            ) from exc
        self.identity = f"gguf:{hash_file(self.path, 'sha256')}"
        self.label = self.path.name
        self._lock = threading.Lock()
        try:
            self._llm: Any = llama_cpp.Llama(
                model_path=str(self.path), n_ctx=context_length, verbose=False, seed=0
            )
        except (ValueError, RuntimeError) as exc:
            raise TargetError(f"{self.path}: llama.cpp cannot load it: {exc}") from exc
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise TargetError(f"{self.path}: the GGUF file carries no chat template")
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self._template = ImmutableSandboxedEnvironment().from_string(template)

    def prompt(self, conversation: Conversation) -> str:
        # bos is left to llama.cpp's tokenizer, which adds it when the model wants one
        text = self._template.render(
            messages=chat_messages(conversation),
            add_generation_prompt=True,
            bos_token="",
            eos_token="",
        )
        return str(text) + (conversation.prefill or "")

    def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
        with self._lock:
            # From an empty context every time: llama-cpp-python otherwise reuses the KV
            # cache of whatever prompt came before for their shared prefix and evaluates
            # only the rest, a different floating-point path, so the same request could
            # get another greedy reply depending on what was asked before it (measured on
            # SmolLM2: the first reply to a request differed from the three after it).
            self._llm.reset()
            out = self._llm.create_completion(
                self.prompt(conversation),
                max_tokens=settings.max_new_tokens,
                temperature=settings.temperature,
                top_p=settings.top_p,
                seed=settings.seed,
            )
        text = str(out["choices"][0]["text"])
        return (conversation.prefill or "") + text
