"""The licence catalogue: loading, resolution, checks, inheritance along lineage."""

from __future__ import annotations

from pathlib import Path

import pytest

from weightwatch.errors import PolicyError
from weightwatch.policy.licences import load_catalogue
from weightwatch.policy.licences.checks import Distribution, run_check, validate_check
from weightwatch.policy.licences.obligations import ParentLicence, assess

CAT = load_catalogue()
LLAMA_LICENCE = "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\nLlama 3.1 Version Release Date: ..."
LLAMA_NOTICE = (
    "Llama 3.1 is licensed under the Llama 3.1 Community License, Copyright © Meta "
    "Platforms, Inc. All Rights Reserved."
)


def dist(**kw: object) -> Distribution:
    base: dict[str, object] = {
        "name": "acme/model",
        "declared_licences": frozenset(),
        "card_text": "",
        "files": (),
        "texts": {},
        "parent_names": (),
    }
    base.update(kw)
    return Distribution(**base)  # type: ignore[arg-type]


def test_catalogue_has_every_licence_of_the_brief() -> None:
    for lid in [
        "apache-2.0",
        "mit",
        "llama2",
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "llama4",
        "gemma",
        "qwen",
        "mrl",
        "cc-by-nc-4.0",
        "openrail-m",
        "creativeml-openrail-m",
    ]:
        assert lid in CAT, lid
        lic = CAT[lid]
        assert lic.obligations, lid
        for ob in lic.obligations:
            assert ob.clause and ob.text


@pytest.mark.parametrize(
    ("license", "name", "expected"),
    [
        ("llama3.1", None, "llama3.1"),
        ("Apache-2.0", None, "apache-2.0"),
        ("other", "qwen", "qwen"),
        ("other", "tongyi-qianwen", "qwen"),
        ("other", "mrl", "mrl"),
        ("bigscience-openrail-m", None, "openrail-m"),
        ("openrail", None, "openrail-m"),
        ("creativeml-openrail-m", None, "creativeml-openrail-m"),
        ("gemma", None, "gemma"),
        ("other", None, None),
        ("wtfpl", None, None),
        (None, None, None),
    ],
)
def test_resolve(license: str | None, name: str | None, expected: str | None) -> None:
    found = CAT.resolve(license, name)
    assert (found.id if found else None) == expected


def test_for_model_by_well_known_name() -> None:
    assert CAT.for_model("meta-llama/Llama-3.1-8B-Instruct").id == "llama3.1"  # type: ignore[union-attr]
    assert CAT.for_model("meta-llama/Meta-Llama-3-8B@2").id == "llama3"  # type: ignore[union-attr]
    assert CAT.for_model("google/gemma-2-9b").id == "gemma"  # type: ignore[union-attr]
    assert CAT.for_model("acme/whatever") is None


def test_file_present_needs_the_right_text() -> None:
    spec = {
        "kind": "file_present",
        "patterns": ["LICENSE*"],
        "contains_any": ["Llama 3.1 Community License"],
    }
    assert run_check(dist(), spec).status == "unmet"
    wrong = dist(files=("LICENSE",), texts={"LICENSE": "Apache License Version 2.0"})
    r = run_check(wrong, spec)
    assert r.status == "unmet" and "does not mention" in r.detail
    assert (
        run_check(dist(files=("LICENSE",), texts={"LICENSE": LLAMA_LICENCE}), spec).status == "met"
    )
    assert run_check(dist(files=("LICENSE",)), spec).status == "unknown"  # present, unread


def test_name_prefix_ignores_case_separators_and_org() -> None:
    spec = {"kind": "name_prefix", "prefix": "Llama 3"}
    assert run_check(dist(name="acme/llama-3-8b-chat"), spec).status == "met"
    assert run_check(dist(name="acme/Llama_3_tuned"), spec).status == "met"
    assert run_check(dist(name="acme/my-llama-3"), spec).status == "unmet"
    assert run_check(dist(name=None), spec).status == "unknown"


def test_card_checks_and_any_of() -> None:
    assert (
        run_check(
            dist(card_text="Built  with\nLLAMA"),
            {"kind": "card_contains", "any": ["Built with Llama"]},
        ).status
        == "met"
    )
    spec = {
        "kind": "any_of",
        "checks": [
            {"kind": "declared_licence_in", "ids": ["gemma"]},
            {"kind": "card_contains", "any": ["ai.google.dev/gemma/terms"]},
        ],
    }
    assert run_check(dist(declared_licences=frozenset({"gemma"})), spec).status == "met"
    assert run_check(dist(card_text="see ai.google.dev/gemma/terms"), spec).status == "met"
    assert run_check(dist(), spec).status == "unmet"
    names = {"kind": "card_names_parent"}
    assert (
        run_check(
            dist(parent_names=("org/base@2",), card_text="fine-tune of org/base"), names
        ).status
        == "met"
    )
    assert run_check(dist(parent_names=("org/base",)), names).status == "unmet"
    assert run_check(dist(), names).status == "unknown"


def test_notice_owed_only_if_parent_shipped_one() -> None:
    spec = {"kind": "file_present_if_parent_has", "patterns": ["NOTICE*"]}
    assert run_check(dist(), spec).status == "unknown"
    assert run_check(dist(parents_ship=frozenset({"LICENSE"})), spec).status == "met"
    assert run_check(dist(parents_ship=frozenset({"NOTICE"})), spec).status == "unmet"
    assert (
        run_check(dist(parents_ship=frozenset({"NOTICE"}), files=("NOTICE.txt",)), spec).status
        == "met"
    )


def _by_id(facts, licence: str, obligation: str):  # type: ignore[no-untyped-def]
    return next(o for o in facts.obligations if (o.licence, o.obligation) == (licence, obligation))


def test_llama_obligations_inherited_whatever_the_card_says() -> None:
    d = dist(
        name="acme/super-chat",
        declared_licences=frozenset({"apache-2.0"}),
        parent_names=("meta/l31",),
    )
    facts = assess(
        CAT,
        d,
        license="apache-2.0",
        license_name=None,
        parents=[ParentLicence(name="meta/l31", license="llama3.1")],
    )
    assert {s.licence for s in facts.applicable} == {"apache-2.0", "llama3.1"}
    prefix = _by_id(facts, "llama3.1", "name-prefix")
    assert prefix.status == "unmet" and prefix.clause == "§1.b.i" and prefix.inherited
    assert prefix.via == ["parent meta/l31"]
    assert _by_id(facts, "llama3.1", "licence-copy").status == "unmet"
    assert _by_id(facts, "llama3.1", "built-with").status == "unmet"
    assert facts.unmet_required == 4
    assert [c.licence for c in facts.conflicts] == ["llama3.1"]
    assert facts.conflicts[0].declared == "apache-2.0"
    assert facts.commercial_use == "conditional"


def test_llama_derivative_that_complies_has_no_unmet_obligation() -> None:
    d = dist(
        name="acme/Llama-3.1-acme-chat",
        declared_licences=frozenset({"llama3.1"}),
        card_text="Built with Llama. Fine-tune of meta/l31.",
        files=("LICENSE", "NOTICE"),
        texts={"LICENSE": LLAMA_LICENCE, "NOTICE": LLAMA_NOTICE},
        parent_names=("meta/l31",),
    )
    facts = assess(
        CAT,
        d,
        license="llama3.1",
        license_name=None,
        parents=[ParentLicence("meta/l31", "llama3.1")],
    )
    assert facts.unmet_required == 0 and not facts.conflicts
    assert all(o.status == "met" for o in facts.obligations)
    # Declared and inherited: one result per obligation, both routes recorded.
    assert _by_id(facts, "llama3.1", "licence-copy").via == ["declared", "parent meta/l31"]


def test_the_original_does_not_owe_derivative_obligations() -> None:
    d = dist(name="meta/Meta-Model", declared_licences=frozenset({"llama3.1"}))
    facts = assess(CAT, d, license="llama3.1", license_name=None)
    assert {o.obligation for o in facts.obligations} == {"licence-copy", "notice-file"}
    assert not facts.conflicts


def test_grandchild_inherits_through_parent_record_and_base_names() -> None:
    d = dist(name="acme/gc", declared_licences=frozenset({"mit"}))
    facts = assess(
        CAT,
        d,
        license="mit",
        license_name=None,
        parents=[ParentLicence(name="acme/child", license="mit", inherited=("gemma",))],
    )
    assert {(s.licence, s.via) for s in facts.applicable} >= {("gemma", "ancestor via acme/child")}
    assert _by_id(facts, "gemma", "notice-file").status == "unmet"
    assert _by_id(facts, "gemma", "notice-file").clause == "§3.1(4)"
    by_name = assess(
        CAT,
        d,
        license="mit",
        license_name=None,
        parents=[ParentLicence(name="meta-llama/Llama-3.2-1B")],
    )
    assert ("llama3.2", "base name meta-llama/Llama-3.2-1B") in {
        (s.licence, s.via) for s in by_name.applicable
    }


def test_cc_by_nc_forbids_commercial_relicensing_and_declared_commercial_use() -> None:
    d = dist(name="acme/x", declared_licences=frozenset({"apache-2.0"}), parent_names=("lab/nc",))
    facts = assess(
        CAT,
        d,
        license="apache-2.0",
        license_name=None,
        parents=[ParentLicence(name="lab/nc", license="cc-by-nc-4.0")],
        declared_uses=["text-generation", "Commercial Use"],
    )
    assert _by_id(facts, "cc-by-nc-4.0", "non-commercial").status == "unmet"
    assert _by_id(facts, "cc-by-nc-4.0", "attribution").status == "unmet"
    assert [(u.licence, u.category) for u in facts.use_conflicts] == [
        ("cc-by-nc-4.0", "commercial")
    ]
    assert facts.commercial_use == "forbidden"


def test_llama_military_use_is_a_use_conflict() -> None:
    facts = assess(
        CAT,
        dist(declared_licences=frozenset({"llama3.1"})),
        license="llama3.1",
        license_name=None,
        declared_uses=["military-planning"],
    )
    assert [(u.restriction, u.category) for u in facts.use_conflicts] == [
        ("acceptable-use", "military")
    ]
    harmless = assess(
        CAT, dist(), license="llama3.1", license_name=None, declared_uses=["paramilitaryish"]
    )
    assert harmless.use_conflicts == []


def test_unknown_licence_is_not_recognised() -> None:
    facts = assess(CAT, dist(), license="other", license_name="my-custom")
    assert not facts.recognised and facts.declared == "my-custom" and facts.obligations == []


def test_extra_catalogue_file_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "house.yaml"
    good.write_text(
        "licences:\n"
        "  - id: house\n    name: House licence\n    url: https://example.org\n"
        "    commercial_use: forbidden\n    license_names: [house]\n"
        "    obligations:\n      - {id: o, clause: '§1', text: t, applies_to: derivative,\n"
        "         severity: required, check: {kind: card_contains, any: [x]}}\n"
    )
    cat = load_catalogue([good])
    assert cat.resolve("other", "house").id == "house"  # type: ignore[union-attr]
    dup = tmp_path / "dup.yaml"
    dup.write_text(good.read_text().replace("id: house", "id: mit"))
    with pytest.raises(PolicyError, match="'mit' is defined twice"):
        load_catalogue([dup])
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("card_contains", "telepathy"))
    with pytest.raises(
        PolicyError,
        match=r"bad.yaml: licences\[0\] \(house\) obligation o: unknown check kind 'telepathy'",
    ):
        load_catalogue([bad])
    broken = tmp_path / "broken.yaml"
    broken.write_text("licences:\n  - id: [unclosed\n")
    with pytest.raises(PolicyError, match=r"broken.yaml:\d+: not valid YAML"):
        load_catalogue([broken])
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        good.read_text().replace("commercial_use: forbidden", "commercial_use: sometimes")
    )
    with pytest.raises(PolicyError, match="commercial_use"):
        load_catalogue([typo])
    with pytest.raises(PolicyError, match="cannot read"):
        load_catalogue([tmp_path / "missing.yaml"])


def test_validate_check_requires_arguments() -> None:
    with pytest.raises(PolicyError, match="needs patterns"):
        validate_check({"kind": "file_present"}, "here")
    with pytest.raises(PolicyError, match="needs a 'kind'"):
        validate_check({"patterns": []}, "here")
    with pytest.raises(PolicyError, match=r"here.checks\[0\]"):
        validate_check({"kind": "any_of", "checks": [{"kind": "nope"}]}, "here")
