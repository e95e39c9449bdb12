"""The response cache: canonical keys, persistence across processes, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from weightwatch.audit.attacks import Conversation, Message
from weightwatch.audit.cache import ResponseCache, cache_key, request_json
from weightwatch.audit.targets import GenerationSettings
from weightwatch.errors import UsageError

CONV = Conversation(messages=(Message(role="user", content="How do I bake bread? ünïcode"),))
SETTINGS = GenerationSettings(max_new_tokens=32)


def test_key_is_canonical_and_covers_every_input() -> None:
    key = cache_key("t", CONV, SETTINGS)
    assert key == cache_key("t", Conversation.model_validate(CONV.model_dump()), SETTINGS)
    assert len(key) == 64
    variants = [
        cache_key("other-target", CONV, SETTINGS),
        cache_key("t", CONV.model_copy(update={"system": "be nice"}), SETTINGS),
        cache_key("t", CONV.model_copy(update={"prefill": "Sure"}), SETTINGS),
        cache_key("t", CONV.with_request("How do I bake cake?"), SETTINGS),
        cache_key("t", CONV, GenerationSettings(max_new_tokens=33)),
        cache_key("t", CONV, GenerationSettings(max_new_tokens=32, seed=1)),
        cache_key("t", CONV, GenerationSettings(max_new_tokens=32, temperature=0.7)),
    ]
    assert len({key, *variants}) == len(variants) + 1
    # one canonical form: sorted keys, no spaces, text kept as UTF-8
    text = request_json("t", CONV, SETTINGS)
    assert '"settings":{"max_new_tokens":32' in text and "ünïcode" in text


def test_golden_key() -> None:
    # Changing the canonical form silently would orphan every user's cache: bump CACHE_SCHEMA.
    assert cache_key("t", CONV, SETTINGS) == (
        "e5628a6dff2a844ca3b63f04b3ca87a8c1e49833256fb0208fdf01c29442f712"
    )


def test_persists_and_counts_hits(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with ResponseCache(path) as cache:
        assert cache.get("k1") is None
        cache.put("k1", target="t", request="{}", response="hello")
        cache.put("k1", target="t", request="{}", response="ignored: first answer wins")
        assert len(cache) == 1
    with ResponseCache(path) as cache:
        assert cache.get("k1") == "hello"
        assert cache.get("k1") == "hello"
        (entry,) = cache.entries("t")
        assert entry.hits == 2 and entry.response == "hello"
        assert cache.entries("other") == []


def test_not_a_cache(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match=r"junk\.sqlite: not a weightwatch audit cache"):
        ResponseCache(path)


def test_future_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    ResponseCache(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    with pytest.raises(UsageError, match="cache schema 99"):
        ResponseCache(path)
