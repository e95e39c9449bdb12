"""Who sees what of a version: the one decision every reader maps.

Downloads follow the tiers (see ``registry.access``): published for anyone; gated for an
accepted request, owners and staff; restricted for the named organisations, owners and
staff; quarantined for staff; taken down, blocked and failed for nobody. The record is
wider: a takedown is public (the record shows it happened, files withheld), blocked and
failed versions are for staff and auditors, and auditors read every record. The JSON API
turns the decision into 404/403, the Hub routes into their error codes, the pages into
what they show.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from weightwatch.registry.access import Principal, grant_state, model_access
from weightwatch.registry.states import GrantState, Role, Status
from weightwatch.registry.store import Store


class Sight(StrEnum):
    """How much of a version's record a caller may see."""

    HIDDEN = "hidden"  # it does not exist for them (answered like an unknown model)
    RECORD = "record"  # status, decisions, attestation; not its files or reports
    CONTENTS = "contents"  # the record, its file list and its reports


class Refusal(StrEnum):
    """Why a download is refused, named as the Hub's ``X-Error-Code`` names it."""

    GATED = "GatedRepo"
    NOT_FOUND = "RepoNotFound"
    DISABLED = "Disabled"


_WITHDRAWN = frozenset({Status.TAKEN_DOWN, Status.BLOCKED, Status.FAILED})


@dataclass(frozen=True)
class Visibility:
    """The one decision about who sees what of a version; the API, the Hub routes and
    the web UI only map it (to 404/403, to Hub error codes, to what a page shows)."""

    sight: Sight
    refusal: Refusal | None  # None: the caller may download its files
    withdrawn: bool  # taken down, blocked or failed: files are withheld from pages

    @property
    def exists(self) -> bool:
        return self.sight is not Sight.HIDDEN

    @property
    def contents(self) -> bool:
        return self.sight is Sight.CONTENTS

    @property
    def listed(self) -> bool:
        """Whether Hub clients may list its files (gated repositories are listed)."""
        return self.refusal in (None, Refusal.GATED)

    @property
    def page(self) -> str:
        """What the web UI shows: ``hidden`` (404), ``down`` (the record, files withheld),
        ``full``, ``gated`` (page and form, no downloads) or ``audit`` (an overseer's
        view: file names, downloads by tier)."""
        if self.sight is Sight.HIDDEN:
            return "hidden"
        if self.withdrawn:
            return "down"
        if self.refusal is None:
            return "full"
        return "gated" if self.refusal is Refusal.GATED else "audit"


class Tiered(Protocol):
    """What visibility needs of a version: its model and its status."""

    @property
    def model_id(self) -> int: ...
    @property
    def status(self) -> str: ...


def visibility(store: Store, who: Principal | None, version: Tiered) -> Visibility:
    """Who sees what of a version. Downloads follow the tiers (module docstring). The
    record: a takedown is public (the record shows it happened, files withheld), blocked
    and failed versions are for staff and auditors only, and auditors read every record
    (they download by tier, like users)."""
    status = version.status
    refusal = _refusal(store, who, version.model_id, status)
    overseer = who is not None and (who.staff or who.role == Role.AUDITOR)
    if status == Status.TAKEN_DOWN:
        sight = Sight.CONTENTS if overseer else Sight.RECORD
    elif status in (Status.BLOCKED, Status.FAILED, Status.PENDING):
        sight = Sight.CONTENTS if overseer else Sight.HIDDEN
    elif who is not None and who.role == Role.AUDITOR:
        sight = Sight.CONTENTS
    else:
        sight = Sight.HIDDEN if refusal is Refusal.NOT_FOUND else Sight.CONTENTS
    return Visibility(sight, refusal, status in _WITHDRAWN)


def _refusal(store: Store, who: Principal | None, model_id: int, status: str) -> Refusal | None:
    if status == Status.PUBLISHED:
        return None
    if status in (Status.TAKEN_DOWN, Status.BLOCKED, Status.FAILED, Status.PENDING):
        return Refusal.DISABLED
    if who is not None and who.staff:
        return None
    if status == Status.QUARANTINED:
        return Refusal.NOT_FOUND
    ma = model_access(store, model_id)
    if who is not None and who.owns(ma.name.split("/")[0], ma.owner_org):
        return None
    if status == Status.RESTRICTED:
        if who is not None and set(who.orgs) & set(ma.allowed_orgs):
            return None
        return Refusal.NOT_FOUND
    if who is None:
        return Refusal.GATED
    accepted = grant_state(store, model_id, who.user) == GrantState.ACCEPTED
    return None if accepted else Refusal.GATED
