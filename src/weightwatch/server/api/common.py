"""What the JSON API's resources share: the registry, who the caller is, and mapping the
registry's visibility decision to HTTP (404 for what the caller may not know exists,
403 for a record whose contents are withheld)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException

from weightwatch.registry import Registry, VersionRow, VersionView
from weightwatch.registry.access import Principal, may_manage
from weightwatch.registry.states import Role
from weightwatch.registry.store import Store
from weightwatch.server import auth


def not_found(what: str) -> HTTPException:
    return HTTPException(404, f"no model {what}")


@dataclass(frozen=True)
class Api:
    """The registry as the API's routes see it, with the caller dependencies."""

    registry: Registry

    @property
    def store(self) -> Store:
        return self.registry.store

    # -- who is calling (FastAPI dependencies) --------------------------------------------
    @property
    def anyone(self) -> Any:
        return Depends(auth.caller(self.store))

    @property
    def signed_in(self) -> Any:
        return Depends(auth.requires(self.store))

    @property
    def admin(self) -> Any:
        return Depends(auth.requires(self.store, Role.ADMIN))

    @property
    def staff(self) -> Any:
        return Depends(auth.requires(self.store, Role.REVIEWER, Role.ADMIN))

    @property
    def overseer(self) -> Any:
        return Depends(auth.requires(self.store, Role.ADMIN, Role.AUDITOR))

    # -- versions, as visibility allows ---------------------------------------------------
    def version(
        self, who: Principal | None, ns: str, name: str, number: int | None = None
    ) -> VersionRow:
        """The newest version (or version ``number``) of a model whose record ``who`` may
        see; 404 otherwise, exactly as for a model that does not exist."""
        for r in self.registry.visible_versions(who, ns, name):
            if number is None or r.number == number:
                return r
        raise not_found(f"{ns}/{name}" + (f"@{number}" if number is not None else ""))

    def contents(self, who: Principal | None, r: VersionRow) -> None:
        """403 unless ``who`` may list the version's files and read its reports."""
        if not self.registry.visibility(who, r).contents:
            raise HTTPException(403, f"{r.label} is taken down")

    def view(self, who: Principal | None, r: VersionRow) -> VersionView:
        """The version's view with only the lineage edges ``who`` may see, and no name of a
        version hidden from ``who`` in its reasons."""
        v = self.registry.view(r.id)
        return self.registry.redacted(
            who,
            v.model_copy(
                update={
                    "parents": [e for e in v.parents if self.registry.label_visible(who, e.model)],
                    "children": [
                        e for e in v.children if self.registry.label_visible(who, e.model)
                    ],
                }
            ),
        )

    def managed(self, who: Principal, ns: str, name: str) -> VersionRow:
        """The model's newest visible version if ``who`` manages its access; else 403."""
        r = self.version(who, ns, name)
        if not may_manage(self.store, who, r.model_id):
            raise HTTPException(403, f"you do not manage {ns}/{name}")
        return r
