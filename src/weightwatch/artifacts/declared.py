"""The base models an artifact declares itself: one rule for everyone who asks.

The registry's lineage edges, the policy's facts and the fingerprint's info all read
``declared_bases``, so they cannot disagree about what a model claims to derive from.
"""

from __future__ import annotations

from dataclasses import dataclass

from weightwatch.artifacts.artifact import Artifact

ADAPTER_RELATION = "adapter"


@dataclass(frozen=True)
class DeclaredBases:
    """The base models an artifact names itself, and the relation it claims to them."""

    names: tuple[str, ...]
    relation: str | None


def declared_bases(artifact: Artifact) -> DeclaredBases:
    """The card's ``base_model`` list and ``base_model_relation``; when the card names
    none, an adapter's own ``base_model_name_or_path`` with relation ``adapter``.

    The card wins over the adapter config: the config often holds a local path or
    another spelling of the same model, which would otherwise show up as a second,
    never-registered parent. The registry's lineage edges and the policy's facts both
    read this, so they cannot disagree about what a model declares.
    """
    card = artifact.card
    names = tuple(card.base_model) if card else ()
    relation = card.base_model_relation if card else None
    adapter = artifact.adapter
    if not names and adapter is not None and adapter.base_model:
        return DeclaredBases((adapter.base_model,), ADAPTER_RELATION)
    return DeclaredBases(names, relation)


@dataclass(frozen=True)
class DeclaredLicence:
    """The licence an artifact declares, and where it says so."""

    license: str | None
    license_name: str | None
    source: str | None  # "card" | "gguf:general.license" | None


def declared_licence(artifact: Artifact) -> DeclaredLicence:
    """The card's ``license`` (and ``license_name``); without one, a GGUF's
    ``general.license``: the one rule the policy, the card check and ``inspect`` share."""
    card = artifact.card
    if card is not None and (card.license or card.license_name):
        return DeclaredLicence(card.license, card.license_name, "card")
    meta = artifact.gguf_metadata or {}
    value = meta.get("general.license")
    if isinstance(value, str) and value.strip():
        name = meta.get("general.license.name")
        return DeclaredLicence(
            value.strip(), name if isinstance(name, str) else None, "gguf:general.license"
        )
    return DeclaredLicence(None, None, None)
