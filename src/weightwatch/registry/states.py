"""The registry's vocabularies: version states and statuses, roles, moderation actions.

They are ``StrEnum``s so the database, the JSON API and the templates keep the plain
strings they always had (``Status.TAKEN_DOWN == "taken_down"``), while code names each
value once and a typo is an ``AttributeError`` instead of a silent mismatch.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a version is in the pipeline; only ``complete`` versions are visible."""

    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


class Status(StrEnum):
    """A version's tier: what the policy decided, or what moderation made of it."""

    PENDING = "pending"
    PUBLISHED = "published"
    GATED = "gated"
    RESTRICTED = "restricted"
    QUARANTINED = "quarantined"
    BLOCKED = "blocked"
    TAKEN_DOWN = "taken_down"
    FAILED = "failed"


class Access(StrEnum):
    """The tier a publisher asks for when registering (the policy may tighten it)."""

    PUBLIC = "public"
    GATED = "gated"
    RESTRICTED = "restricted"


class Role(StrEnum):
    """An account's role. Staff (reviewers, admins) moderate; auditors read every record."""

    ADMIN = "admin"
    REVIEWER = "reviewer"
    PUBLISHER = "publisher"
    AUDITOR = "auditor"
    USER = "user"


STAFF: frozenset[str] = frozenset({Role.ADMIN, Role.REVIEWER})
UPLOADERS: frozenset[str] = frozenset({Role.ADMIN, Role.PUBLISHER})


class Moderation(StrEnum):
    """A reviewer's action on a version (rows of the ``takedowns`` table)."""

    TAKEDOWN = "takedown"
    REINSTATEMENT = "reinstatement"
    RELEASE = "release"


class GrantState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The plain strings of an enum, in order (for messages and ``choices``)."""
    return tuple(str(m) for m in enum)


def applied_access(status: str) -> str | None:
    """The access that applies to a version with ``status`` (what a download meets), or
    ``None`` where nothing can be downloaded (quarantined, blocked, taken down, failed).
    The tier asked for at upload may differ: the policy can tighten it."""
    return {
        Status.PUBLISHED: Access.PUBLIC,
        Status.GATED: Access.GATED,
        Status.RESTRICTED: Access.RESTRICTED,
    }.get(Status(status) if status in values(Status) else Status.FAILED)
