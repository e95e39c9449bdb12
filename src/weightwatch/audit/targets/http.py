"""An OpenAI-compatible ``/chat/completions`` endpoint (vLLM, llama.cpp server, Ollama, …).

Bounded concurrency comes from the runner's worker pool (``max_concurrency`` workers share
one pooled ``httpx.Client``); each call has a timeout and retries transient failures
(connection errors, timeouts, HTTP 408/409/429/5xx) with exponential backoff and jitter,
honouring ``Retry-After``. Only the configured URL is contacted.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from weightwatch.audit.attacks.base import Conversation
from weightwatch.audit.targets.base import GenerationSettings, Target, TargetError, chat_messages

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


@dataclass(eq=False)
class OpenAITarget(Target):
    """Chat completions from ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``) for ``model``."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 120.0
    retries: int = 4
    backoff_s: float = 0.5
    concurrency: int = 8
    transport: httpx.BaseTransport | None = field(default=None, repr=False)
    supports_prefill: bool = field(default=False, init=False)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise TargetError(f"endpoint {self.base_url!r} is not an http(s) URL")
        if self.concurrency < 1 or self.retries < 0 or self.timeout_s <= 0:
            raise TargetError("concurrency must be >= 1, retries >= 0 and timeout_s > 0")
        self.base_url = self.base_url.rstrip("/")
        self.identity = f"openai-chat:{self.base_url}#{self.model}"
        self.label = f"{self.model} @ {self.base_url}"
        self.max_concurrency = self.concurrency

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                limits = httpx.Limits(
                    max_connections=self.concurrency, max_keepalive_connections=self.concurrency
                )
                self._client = httpx.Client(
                    timeout=self.timeout_s, limits=limits, transport=self.transport
                )
            return self._client

    def body(self, conversation: Conversation, settings: GenerationSettings) -> dict[str, Any]:
        """The request body; greedy settings send ``temperature: 0``."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(conversation),
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "seed": settings.seed,
        }
        if settings.top_p != 1.0:
            body["top_p"] = settings.top_p
        return body

    def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
        if conversation.prefill:
            raise TargetError(f"{self.label}: an endpoint cannot honour an assistant prefill")
        body = self.body(conversation, settings)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        problem, told = "", None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.delay(attempt, told))
            told = None
            try:
                response = self._http().post(self.url, json=body, headers=headers)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUS:
                problem = f"HTTP {response.status_code}"
                told = _retry_after(response)
                continue
            if response.status_code != 200:
                raise TargetError(
                    f"{self.url} answered HTTP {response.status_code}: {response.text[:200]}"
                )
            return _content(self.url, response)
        raise TargetError(f"{self.url}: no answer after {self.retries + 1} attempts ({problem})")

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry ``attempt``: the server's Retry-After, else backoff + jitter."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S)
        base = self.backoff_s * 2 ** (attempt - 1)
        return float(base * (0.5 + random.random()))  # noqa: S311 - jitter, not security

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _content(url: str, response: httpx.Response) -> str:
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise TargetError(f"{url}: the answer is not a chat completion") from exc
    if content is None:
        return ""
    if not isinstance(content, str):
        raise TargetError(f"{url}: message content is not text")
    return content
