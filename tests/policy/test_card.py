"""Model-card completeness: headings and synonyms, front matter, configurable lists."""

from __future__ import annotations

import pytest

from weightwatch.errors import PolicyError
from weightwatch.policy.card import CardCheck, check_card, parse_checklist, sections

FULL = """
# acme/model

## Intended uses & limitations
Chat in English.

### Out-of-scope use
Medical advice.

## Training data
Public web text.

## Evaluation results
| task | score |
"""


def test_complete_card_from_headings_and_fields() -> None:
    facts = check_card({"license": "mit", "base_model": "org/base"}, FULL, derivative=True)
    assert facts.complete and facts.missing == []
    where = {i.id: i.where for i in facts.items}
    assert where["licence"] == "front matter: license"
    assert where["intended_use"] == "heading: ## Intended uses & limitations"
    assert where["limitations"] == "heading: ## Intended uses & limitations"
    assert where["evaluation"] == "heading: ## Evaluation results"


def test_missing_items_and_base_model_only_for_derivatives() -> None:
    facts = check_card({}, "# title\n\nA tiny test model.\n", derivative=True)
    assert facts.missing == [
        "licence",
        "base_model",
        "intended_use",
        "limitations",
        "training_data",
        "evaluation",
    ]
    assert "base_model" not in check_card({}, "", derivative=False).missing


def test_empty_sections_and_code_blocks_do_not_count() -> None:
    body = "## Evaluation\n\n## Usage\n```\n## Limitations\nnot a heading\n```\n"
    facts = check_card({"license": "mit"}, body, derivative=False)
    assert "evaluation" in facts.missing  # heading with nothing under it
    assert "limitations" in facts.missing  # inside a code fence
    assert "intended_use" not in facts.missing


def test_whole_words_only() -> None:
    facts = check_card({}, "## Metadata\nstuff\n", derivative=False)
    assert "training_data" in facts.missing


def test_no_card_at_all() -> None:
    facts = check_card(None, None, derivative=False)
    assert not facts.present and not facts.complete and "licence" in facts.missing


def test_sections_parser() -> None:
    assert sections("intro\n# A\nx\n## B ##\ny\n") == [("# A", "x"), ("## B ##", "y")]


def test_custom_checklist() -> None:
    custom = parse_checklist(
        ["licence", {"id": "contact", "label": "contact", "headings": ["contact"]}], "policy.yaml"
    )
    assert [c.id for c in custom] == ["licence", "contact"]
    facts = check_card(
        {"license": "mit"}, "## Contact\nmail us\n", derivative=False, checklist=custom
    )
    assert facts.complete
    assert check_card(
        {}, "", derivative=False, checklist=(CardCheck(id="x", label="x"),)
    ).missing == ["x"]


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ([], "non-empty list"),
        (["nonsense"], "unknown item 'nonsense'"),
        ([{"id": "x"}], r"card_checklist\[0\]"),
        ([{"id": "x", "label": "y", "colour": "red"}], r"card_checklist\[0\]"),
        ([3], "name or a mapping"),
    ],
)
def test_checklist_errors(raw: object, match: str) -> None:
    with pytest.raises(PolicyError, match=match):
        parse_checklist(raw, "policy.yaml")
