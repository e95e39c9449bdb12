"""The licence catalogue: common open-weight licences as data, with checkable obligations.

Entries live in the YAML files of this folder (one list per file); ``load_catalogue``
reads them, or extra files a deployment adds, and validates every check. A card names
its licence the Hugging Face way — ``license: llama3.1``, or ``license: other`` plus
``license_name: qwen`` — and ``Catalogue.resolve`` maps both forms to an entry. The
catalogue is a reading aid, not legal advice: clause identifiers point into each
licence, wording is paraphrased.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from weightwatch.errors import PolicyError
from weightwatch.policy.licences.checks import validate_check


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Obligation(_Frozen):
    id: str
    clause: str
    text: str
    applies_to: Literal["distribution", "derivative"]
    severity: Literal["required", "advisory"]
    check: dict[str, Any]


class UseRestriction(_Frozen):
    id: str
    clause: str
    text: str
    categories: tuple[str, ...] = ()


class TermsFollow(_Frozen):
    """The licence's terms bind derivatives: they may only declare an accepted licence."""

    clause: str
    text: str
    accepted: tuple[str, ...]


class Licence(_Frozen):
    id: str
    name: str
    url: str
    hf_ids: tuple[str, ...] = ()
    license_names: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # glob patterns of well-known model ids under it
    commercial_use: Literal["allowed", "conditional", "forbidden"]
    terms_follow: TermsFollow | None = None
    obligations: tuple[Obligation, ...] = ()
    use_restrictions: tuple[UseRestriction, ...] = Field(default=())


class Catalogue:
    """Licences by id, with lookups by card fields and by well-known model names."""

    def __init__(self, licences: Iterable[Licence]) -> None:
        self.licences: dict[str, Licence] = {}
        self._by_hf: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        for lic in licences:
            if lic.id in self.licences:
                raise PolicyError(f"licence catalogue: {lic.id!r} is defined twice")
            self.licences[lic.id] = lic
            for h in (lic.id, *lic.hf_ids):
                self._by_hf[h.lower()] = lic.id
            for n in lic.license_names:
                self._by_name[n.lower()] = lic.id

    def __contains__(self, licence_id: object) -> bool:
        return licence_id in self.licences

    def __getitem__(self, licence_id: str) -> Licence:
        return self.licences[licence_id]

    def resolve(self, license: str | None, license_name: str | None = None) -> Licence | None:
        """The entry for a card's ``license`` (and ``license_name`` when it is ``other``)."""
        if license and license.lower() not in ("other", "unknown"):
            found = self._by_hf.get(license.lower())
            return self.licences[found] if found else None
        if license_name:
            found = self._by_name.get(license_name.lower()) or self._by_hf.get(license_name.lower())
            return self.licences[found] if found else None
        return None

    def for_model(self, model_id: str) -> Licence | None:
        """The licence a well-known model id (``meta-llama/Llama-3.1-8B``) is under."""
        name = model_id.split("@", 1)[0].lower()
        for lic in self.licences.values():
            if any(fnmatch.fnmatch(name, p.lower()) for p in lic.models):
                return lic
        return None


def _line_of(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark
    return f":{mark.line + 1}" if mark is not None else ""


def _load_file(text: str, where: str) -> list[Licence]:
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        raise PolicyError(f"{where}{_line_of(exc)}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("licences"), list):
        raise PolicyError(f"{where}: expected a mapping with a 'licences' list")
    out: list[Licence] = []
    for i, raw in enumerate(doc["licences"]):
        label = f"{where}: licences[{i}]" + (
            f" ({raw['id']})" if isinstance(raw, dict) and "id" in raw else ""
        )
        try:
            lic = Licence.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise PolicyError(f"{label}: {problems}") from None
        for ob in lic.obligations:
            validate_check(ob.check, f"{label} obligation {ob.id}")
        out.append(lic)
    return out


def load_catalogue(extra: Sequence[str | Path] = (), *, builtin: bool = True) -> Catalogue:
    """The shipped catalogue plus ``extra`` YAML files (an id may not appear twice)."""
    licences: list[Licence] = []
    if builtin:
        folder = resources.files("weightwatch.policy.licences")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                licences += _load_file(entry.read_text("utf-8"), f"licences/{entry.name}")
    for path in extra:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read licence file: {exc.strerror}") from None
        licences += _load_file(text, str(path))
    return Catalogue(licences)


__all__ = [
    "Catalogue",
    "Licence",
    "Obligation",
    "TermsFollow",
    "UseRestriction",
    "load_catalogue",
]
