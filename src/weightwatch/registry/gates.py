"""Access gates in the Hugging Face card vocabulary, and checking a request against one.

A model card's front matter may carry ``extra_gated_prompt`` (text shown before the
form), ``extra_gated_fields`` (label -> ``text`` | ``checkbox`` | ``date_picker`` |
``country`` | ``{type: select, options: [...]}``), ``extra_gated_heading``,
``extra_gated_button_content``, ``extra_gated_description`` and
``extra_gated_eu_disallowed``. The Hub checks the EU rule by IP geolocation; a
self-hosted registry has no such database, so it uses the country the requester gives
(a ``country`` field) or declared on their account, and says so in the rejection reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pycountry
from pydantic import BaseModel, ConfigDict

from weightwatch.errors import UsageError

FIELD_TYPES = ("text", "checkbox", "date_picker", "country", "select")
# The 27 member states (ISO 3166-1 alpha-2), as the Hub's extra_gated_eu_disallowed means.
EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)


class GateField(BaseModel):
    model_config = ConfigDict(frozen=True)
    label: str
    type: str
    options: list[str] = []


class Gate(BaseModel):
    """The form a requester fills in; ``fields`` keep the card's order."""

    model_config = ConfigDict(frozen=True)
    prompt: str | None = None
    heading: str | None = None
    description: str | None = None
    button: str | None = None
    fields: list[GateField] = []
    eu_disallowed: bool = False


def gate_from_card(meta: dict[str, Any]) -> Gate:
    """The gate a card's front matter declares; UsageError names a malformed field."""
    raw = meta.get("extra_gated_fields") or {}
    if not isinstance(raw, dict):
        raise UsageError("extra_gated_fields must be a mapping of label to field type")
    fields = []
    for label, spec in raw.items():
        options: list[str] = []
        if isinstance(spec, dict):
            kind = str(spec.get("type", ""))
            options = [
                str(o["value"] if isinstance(o, dict) else o) for o in spec.get("options") or []
            ]
        else:
            kind = str(spec)
        if kind not in FIELD_TYPES:
            raise UsageError(
                f"extra_gated_fields: {label!r} has type {kind!r}; expected one of "
                + ", ".join(FIELD_TYPES)
            )
        if kind == "select" and not options:
            raise UsageError(f"extra_gated_fields: select field {label!r} has no options")
        fields.append(GateField(label=str(label), type=kind, options=options))

    def text(key: str) -> str | None:
        v = meta.get(key)
        return str(v) if v is not None else None

    return Gate(
        prompt=text("extra_gated_prompt"),
        heading=text("extra_gated_heading"),
        description=text("extra_gated_description"),
        button=text("extra_gated_button_content"),
        fields=fields,
        eu_disallowed=bool(meta.get("extra_gated_eu_disallowed", False)),
    )


def country_code(value: str) -> str:
    """ISO alpha-2 code for a country name or code; UsageError if unknown."""
    try:
        return str(pycountry.countries.lookup(value.strip()).alpha_2)
    except LookupError:
        raise UsageError(f"unknown country {value!r}") from None


def countries() -> list[tuple[str, str]]:
    """(code, name) of every ISO 3166-1 country, by name, for the form's country picker."""
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1])


def check_answers(gate: Gate, answers: dict[str, Any]) -> dict[str, Any]:
    """The answers normalised (countries to codes, dates to ISO); UsageError says which
    field is missing or invalid. Unknown labels are refused rather than stored."""
    unknown = set(answers) - {f.label for f in gate.fields}
    if unknown:
        raise UsageError(f"unknown gate field(s): {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    for f in gate.fields:
        v = answers.get(f.label)
        if f.type == "checkbox":
            if v not in (True, "true", "on", "1", 1):
                raise UsageError(f"{f.label!r} must be checked")
            clean[f.label] = True
            continue
        if v is None or not str(v).strip():
            raise UsageError(f"{f.label!r} is required")
        s = str(v).strip()
        if len(s) > 2000:
            raise UsageError(f"{f.label!r} is longer than 2000 characters")
        if f.type == "date_picker":
            try:
                s = dt.date.fromisoformat(s).isoformat()
            except ValueError:
                raise UsageError(f"{f.label!r} must be a date (YYYY-MM-DD), not {s!r}") from None
        elif f.type == "country":
            s = country_code(s)
        elif f.type == "select" and s not in f.options:
            raise UsageError(f"{f.label!r} must be one of {', '.join(f.options)}")
        clean[f.label] = s
    return clean


def eu_refusal(gate: Gate, answers: dict[str, Any], declared_country: str | None) -> str | None:
    """Why the request is refused under ``extra_gated_eu_disallowed``, or None."""
    if not gate.eu_disallowed:
        return None
    given = [answers[f.label] for f in gate.fields if f.type == "country" and f.label in answers]
    for code in [*given, declared_country]:
        if code and code in EU:
            return (
                f"the model's gate disallows access from the EU (extra_gated_eu_disallowed); "
                f"country given: {code}"
            )
    return None
