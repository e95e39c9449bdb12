"""A derivative of a copy is named as a derivative of the original."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_copy_gives_way_to_the_original(registry, llama_family):  # type: ignore[no-untyped-def]
    registry.register(llama_family.base, "org/base")
    q8 = registry.register(llama_family.gguf_q8_0, "org/base-q8_0")
    assert [(e.model, e.relation) for e in q8.parents] == [("org/base@1", "quantized")]
    # the LoRA-merged model matches the quantized copy as well as (here: slightly better
    # than) the original; the copy adds nothing, so the original is its parent
    chat = registry.register(llama_family.lora_merged, "org/chat")
    assert [(e.model, e.kind) for e in chat.parents] == [("org/base@1", "detected")]
    tree = registry.lineage_tree("org/base")
    assert {c.model for c in tree.children} == {"org/base-q8_0@1", "org/chat@1"}
