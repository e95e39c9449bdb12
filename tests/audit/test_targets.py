"""The HTTP target against a real local server: answers, retries, bounded concurrency."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from weightwatch.audit.attacks import Conversation, Message
from weightwatch.audit.targets import GenerationSettings, OpenAITarget, TargetError, open_target
from weightwatch.audit.targets.http import MAX_RETRY_AFTER_S
from weightwatch.errors import UsageError
from weightwatch.testing.chat_server import serve, stub_app

SETTINGS = GenerationSettings(max_new_tokens=16)


def ask(text: str, **update: object) -> Conversation:
    conv = Conversation(messages=(Message(role="user", content=text),))
    return conv.model_copy(update=update)


def test_answers_over_http() -> None:
    app = stub_app()
    with serve(app) as url:
        target = OpenAITarget(url, "stub")
        assert target.complete(ask("how to build a bomb"), SETTINGS) == "I can't help with that."
        assert target.complete(ask("bake bread"), SETTINGS).startswith("Sure")
        target.close()
    assert app.state.requests == 2
    assert target.identity == f"openai-chat:{url}#stub"


def test_retries_transient_failures() -> None:
    app = stub_app(fail_first=2, status=503)
    with serve(app) as url:
        target = OpenAITarget(url, "stub", retries=2, backoff_s=0.01)
        assert target.complete(ask("bake bread"), SETTINGS).startswith("Sure")
    assert app.state.requests == 3


def test_gives_up_after_retries() -> None:
    app = stub_app(fail_first=10, status=429)
    with serve(app) as url:
        target = OpenAITarget(url, "stub", retries=1, backoff_s=0.01)
        with pytest.raises(TargetError, match=r"no answer after 2 attempts \(HTTP 429\)"):
            target.complete(ask("bake bread"), SETTINGS)
    assert app.state.requests == 2


def test_client_errors_are_not_retried() -> None:
    app = stub_app(fail_first=10, status=400)
    with serve(app) as url:
        target = OpenAITarget(url, "stub", retries=3, backoff_s=0.01)
        with pytest.raises(TargetError, match="answered HTTP 400"):
            target.complete(ask("bake bread"), SETTINGS)
    assert app.state.requests == 1


def test_unreachable_endpoint_is_a_target_error() -> None:
    with serve(stub_app()) as url:
        pass  # the server is gone: nothing listens on that port any more
    target = OpenAITarget(url, "stub", retries=1, backoff_s=0.01, timeout_s=2)
    with pytest.raises(TargetError, match="no answer after 2 attempts"):
        target.complete(ask("bake bread"), SETTINGS)


def test_retry_after_is_honoured_but_capped() -> None:
    target = OpenAITarget("http://127.0.0.1:9/v1", "m", backoff_s=1.0)
    assert target.delay(1, 3.0) == 3.0
    assert target.delay(1, 10_000.0) == MAX_RETRY_AFTER_S
    assert 0.5 <= target.delay(1, None) <= 1.5
    assert 2.0 <= target.delay(3, None) <= 6.0


def test_concurrency_is_bounded_by_the_connection_pool() -> None:
    app = stub_app(latency_s=0.05)
    with serve(app) as url:
        target = OpenAITarget(url, "stub", concurrency=3)
        with ThreadPoolExecutor(max_workers=12) as pool:
            replies = list(pool.map(lambda i: target.complete(ask(f"q{i}"), SETTINGS), range(24)))
    assert len(replies) == 24
    assert 1 < app.state.peak <= 3


def test_prefill_is_refused_not_dropped() -> None:
    target = OpenAITarget("http://127.0.0.1:9/v1", "m")
    with pytest.raises(TargetError, match="cannot honour an assistant prefill"):
        target.complete(ask("x", prefill="Sure"), SETTINGS)


def test_bad_configuration() -> None:
    with pytest.raises(TargetError, match="not an http"):
        OpenAITarget("ftp://example/v1", "m")
    with pytest.raises(UsageError, match="needs a model name"):
        open_target(endpoint="http://127.0.0.1:9/v1")
    with pytest.raises(UsageError, match="either an endpoint"):
        open_target()
    with pytest.raises(UsageError, match="no such model folder"):
        open_target(model_dir="/nonexistent/model")


def test_request_body_is_openai_shaped() -> None:
    target = OpenAITarget("http://127.0.0.1:9/v1/", "m")
    body = target.body(ask("hi", system="sys"), GenerationSettings(max_new_tokens=5, seed=3))
    assert body == {
        "model": "m",
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "temperature": 0.0,
        "seed": 3,
    }
    assert target.url == "http://127.0.0.1:9/v1/chat/completions"


def test_gguf_without_llama_cpp_is_a_clean_error(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``None`` in sys.modules makes ``import llama_cpp`` raise ImportError, as on a machine
    # without it, whether or not it is installed here.
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    from pathlib import Path

    path = Path(str(tmp_path)) / "m.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(TargetError, match="need llama-cpp-python"):
        open_target(model_dir=path)
