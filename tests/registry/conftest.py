"""Registries on SQLite and on a real PostgreSQL server (``db_url`` in tests/conftest.py),
and model folders to register."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from weightwatch.registry import Registry


@pytest.fixture
def registry(tmp_path, db_url) -> Iterator[Registry]:  # type: ignore[no-untyped-def]
    reg = Registry.open(tmp_path / "registry", db_url, init=True)
    yield reg
    reg.close()


def with_card(
    src: Path,
    dest: Path,
    *,
    base_model: str | None,
    relation: str | None,
    license: str | None = None,
) -> Path:
    """A copy of a model folder whose card declares the given base model (or none)."""
    shutil.copytree(src, dest)
    readme = dest / "README.md"
    text = readme.read_text() if readme.exists() else "---\n---\n# model\n"
    text = re.sub(r"(?m)^base_model:.*\n(?:- .*\n)*", "", text)
    text = re.sub(r"(?m)^base_model_relation:.*\n", "", text)
    extra = ""
    if base_model:
        extra += f"base_model: {base_model}\n"
    if relation:
        extra += f"base_model_relation: {relation}\n"
    if license:
        text = re.sub(r"(?m)^license:.*\n", "", text)
        extra += f"license: {license}\n"
    readme.write_text(text.replace("---\n", "---\n" + extra, 1))
    return dest


TIER_MODELS = {  # one model per access tier, as the authorisation tests lay them out
    "public": "acme/public",
    "gated": "acme/gated",
    "restricted": "acme/restricted",
    "quarantined": "acme/quarantined",
    "taken_down": "acme/taken-down",
}


def register_tiers(reg: Registry, tmp: Path, llama_family, gpt2_family, *, reason: str) -> None:  # type: ignore[no-untyped-def]
    """Register one model per tier (``TIER_MODELS``): a quarantined fine-tune of a base
    that is then taken down with ``reason``."""
    reg.register(llama_family.base, TIER_MODELS["public"])
    reg.register(llama_family.int8, TIER_MODELS["gated"], access="gated")
    reg.register(llama_family.independent, TIER_MODELS["restricted"], access="restricted")
    reg.register(gpt2_family.base, TIER_MODELS["taken_down"])
    child = with_card(
        gpt2_family.finetune,
        tmp / "child",
        base_model=TIER_MODELS["taken_down"],
        relation="finetune",
    )
    reg.register(child, TIER_MODELS["quarantined"])
    reg.takedown(f"{TIER_MODELS['taken_down']}@1", reason=reason)


# A derivative audit's result that says the safety behaviour was stripped (for the registry's
# audit records and what is built from them).
STRIPPED = {
    "base": "org/base@1",
    "derivative": "org/ft@1",
    "verdict": "stripped",
    "p_stripped": 1e-9,
    "p_equivalence": 0.9,
    "alpha_per_attack": 0.05,
    "over_refusal_verdict": None,
    "p_over_refusal": None,
    "base_asr": {"direct": 0.0},
    "derivative_asr": {"direct": 0.8},
}
