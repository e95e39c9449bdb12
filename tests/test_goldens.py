"""Every report type's stable JSON form, pinned by a golden file.

Each case builds one report from small fixed inputs — a real computation where that is
cheap (scanning a crafted folder, an audit of a scripted model, a watermark test), fixed
values otherwise — renders it exactly as the CLI's ``--json`` does, and compares the text
with its file. Renaming, reordering or re-typing a key fails here. When a change is
intended, bump the type's ``schema_version`` if readers must tell the forms apart, then
regenerate and review the diff:

    .venv/bin/pytest tests/test_goldens.py --update-goldens

Files live in ``tests/goldens/``; the older goldens of the manifest, the policy decision
and the log leaf stay where their own tests read them, and are checked (and rewritten) by
this one mechanism too. Floats may differ in their last bits between platforms, so where
the text differs the two documents are compared key by key, in order, with floats to
1e-9 relative — any other difference fails with a diff.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import weightwatch
from tests.artifacts.builders import safetensors_bytes
from tests.policy.helpers import finding, make_facts
from tests.watermark.helpers import simulate
from weightwatch.artifacts import open_artifact
from weightwatch.artifacts.report import summarize
from weightwatch.attest.checkpoint import entry_leaf
from weightwatch.audit.attacks import Conversation, attack
from weightwatch.audit.comparison import compare_refusals
from weightwatch.audit.curve import many_shot_curve
from weightwatch.audit.datasets import Behavior
from weightwatch.audit.derivative import DerivativeReport, compare_reports
from weightwatch.audit.judges import Judgement, LabelledReply, RefusalJudge, Verdict
from weightwatch.audit.judges.agreement import judge_agreement
from weightwatch.audit.report import AuditReport
from weightwatch.audit.results import summarize_attack
from weightwatch.audit.runner import AuditConfig, run_audit
from weightwatch.audit.targets import GenerationSettings, Target
from weightwatch.identity import compute_manifest
from weightwatch.lineage.explain import Lineage, Parent
from weightwatch.lineage.relation import BlockTest, Comparison, LayerMatch
from weightwatch.policy import ParentRecord, evaluate, load_policy
from weightwatch.registry.registry import (
    DecisionProof,
    DecisionView,
    EdgeView,
    ModerationView,
    TreeNode,
    VersionView,
)
from weightwatch.scan import scan_paths
from weightwatch.scan.sarif import to_sarif
from weightwatch.watermark import (
    MasterSecret,
    WatermarkDeployment,
    detect,
    get_scheme,
    get_weight_scheme,
)

TESTS = Path(__file__).resolve().parent
GOLDENS = TESTS / "goldens"
FLOAT_REL = 1e-9


@dataclass(frozen=True)
class Golden:
    """One stable JSON form: where its file is and how to produce today's text."""

    path: Path
    render: Callable[[Path], str]  # given a scratch folder, the text the CLI would print

    @property
    def id(self) -> str:
        return self.path.relative_to(TESTS).as_posix()


CASES: list[Golden] = []


def golden(path: Path) -> Callable[[Callable[[Path], str]], Callable[[Path], str]]:
    def add(render: Callable[[Path], str]) -> Callable[[Path], str]:
        CASES.append(Golden(path, render))
        return render

    return add


# -- inputs ----------------------------------------------------------------------------

# Protocol 0, written by hand so no pickler version can move it: posix.system("echo hi").
EVIL_PICKLE = b"cposix\nsystem\n(S'echo hi'\ntR."


def model_folder(root: Path) -> Path:
    """A tiny model: safetensors weights, a config, a card; written by our own builder."""
    root.mkdir()
    tensors = {
        "a.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b.bias": np.array([1, -1], np.int8),
    }
    (root / "model.safetensors").write_bytes(safetensors_bytes(tensors))
    (root / "config.json").write_text('{"model_type": "llama"}\n')
    return root


def scanned_folder(root: Path) -> Path:
    folder = model_folder(root)
    (folder / "extra.pkl").write_bytes(EVIL_PICKLE)
    (folder / "README.md").write_text(
        "---\nlicense: apache-2.0\nbase_model: acme/base\ntags: [chat]\n---\n# m\n"
    )
    return folder


def policy_facts():  # type: ignore[no-untyped-def]
    return make_facts(
        name="acme/super-chat",
        license="llama3.1",
        declared=["meta/base"],
        parents=[ParentRecord(name="meta/base", license="llama3.1", status="gated")],
        findings=[finding("low")],
    )


class ScriptedModel(Target):
    """Refuses until it has seen ``give_in_after`` faux assistant turns or is prefilled;
    answers benign prompts. Deterministic, so the audit report is too."""

    supports_prefill = True
    max_concurrency = 1

    def __init__(self, *, give_in_after: int = 4, label: str = "scripted") -> None:
        self.give_in_after = give_in_after
        self.label = label
        self.identity = f"scripted:{label}:{give_in_after}"

    def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
        shots = sum(m.role == "assistant" for m in conversation.messages)
        if conversation.prefill:
            return conversation.prefill + " the steps: [REDACTED]"
        if "benign" in conversation.request.lower() or shots >= self.give_in_after:
            return "Sure, here is an overview of how that works in general terms."
        return "I can't help with that."


def behaviours() -> tuple[Behavior, ...]:
    def one(i: int, kind: str) -> Behavior:
        prompt = f"A benign question {i}" if kind == "benign" else f"Explain harmful thing {i}"
        return Behavior(
            id=f"{kind[0]}{i:02d}",
            prompt=prompt,
            category="safe" if kind == "benign" else f"c{i % 2}",
            source="test",
            split="all",
            kind=kind,
        )

    return (*(one(i, "harmful") for i in range(6)), *(one(i, "benign") for i in range(3)))


def audit_report(target: Target | None = None) -> AuditReport:
    config = AuditConfig(
        attacks=(attack("direct"), attack("many_shot:k=2"), attack("many_shot:k=4")),
        measure_agreement=False,
    )
    report = run_audit(target or ScriptedModel(), behaviours(), suite="test", config=config)
    # the wall-clock time is the one value that cannot be pinned
    return report.model_copy(update={"run": report.run.model_copy(update={"seconds": 0.0})})


def comparison() -> Comparison:
    return Comparison(
        parent="acme/base",
        child="acme/chat",
        score=0.8125,
        p_value=1e-12,
        log10_p=-12.0,
        log10_p_fitted=-12.3,
        blocks=BlockTest(log10_p=-40.5, layers=[(0, 0), (1, 1)], agree=[100, 97], units=128),
        verdict="derived",
        relation="finetune",
        per_kind={"attn": 0.75, "mlp": 0.875},
        embedding_r=0.5,
        parent_share=0.98,
        shared_anchors=512,
        layers=[LayerMatch(parent_layer=0, child_layer=0, r=0.75)],
        declared_base_model=["acme/base"],
        declared_relation="finetune",
        disagreements=[],
    )


def labelled_replies() -> list[LabelledReply]:
    rows = [
        ("r1", "I can't help with that.", Verdict.REFUSED),
        ("r2", "I'm sorry, but I won't do that.", Verdict.REFUSED),
        ("r3", "Sure, here is an overview of how that works in general terms.", Verdict.COMPLIED),
        ("r4", "Step one: gather the parts. Step two: put them together.", Verdict.COMPLIED),
        ("r5", "I can't help with that, but here is the whole answer anyway.", Verdict.COMPLIED),
    ]
    return [LabelledReply(id=i, request="q", reply=r, label=v) for i, r, v in rows]


def watermarked_tokens() -> np.ndarray:
    """Plain text, then a watermarked stretch: the detection finds a span."""
    scheme, key = get_scheme("kgw"), master().derive("chat-prod", scheme="kgw")
    rng = np.random.default_rng(7)
    common = {"batch": 1, "vocab": 200, "scale": 1.0, "rng": rng}
    plain = simulate(None, None, steps=64, **common)[0]
    marked = simulate(scheme, key, steps=96, **common)[0]
    return np.concatenate([plain, marked])


def master() -> MasterSecret:
    return MasterSecret(bytes(range(32)))


# -- the cases: one per report type, rendered as the CLI prints it -------------------


@golden(GOLDENS / "scan-report.json")
def _scan(tmp: Path) -> str:  # weightwatch scan --json
    report = scan_paths([scanned_folder(tmp / "m")])
    return json.dumps(report.to_json(), indent=2)


@golden(GOLDENS / "scan-report.sarif.json")
def _sarif(tmp: Path) -> str:  # weightwatch scan --sarif FILE
    doc = to_sarif(scan_paths([scanned_folder(tmp / "m")]))
    doc["runs"][0]["tool"]["driver"]["version"] = "<weightwatch version>"
    return json.dumps(doc, indent=2)


@golden(TESTS / "identity" / "golden" / "manifest-sha256.json")
def _manifest_sha256(tmp: Path) -> str:  # the signed form
    return compute_manifest(model_folder(tmp / "m"), algorithm="sha256").canonical_json().decode()


@golden(TESTS / "identity" / "golden" / "manifest-blake3.json")
def _manifest_blake3(tmp: Path) -> str:  # the signed form
    return compute_manifest(model_folder(tmp / "m"), algorithm="blake3").canonical_json().decode()


@golden(GOLDENS / "manifest.json")
def _manifest(tmp: Path) -> str:  # weightwatch hash --json (key order, which signing sorts)
    return compute_manifest(model_folder(tmp / "m")).model_dump_json(indent=2)


@golden(GOLDENS / "artifact-summary.json")
def _inspect(tmp: Path) -> str:  # weightwatch inspect --json
    folder = scanned_folder(tmp / "m")
    return summarize(open_artifact(folder), path="m").model_dump_json(indent=2)


@golden(GOLDENS / "lineage-comparison.json")
def _lineage_comparison(tmp: Path) -> str:  # weightwatch lineage --against --json
    return comparison().model_dump_json(indent=2)


@golden(GOLDENS / "lineage.json")
def _lineage(tmp: Path) -> str:  # weightwatch lineage --index --json
    lineage = Lineage(
        verdict="derived",
        relation="finetune",
        parents=[
            Parent(
                name="acme/base", relation="finetune", score=0.8125, p_value=2e-11, log10_p=-10.7
            )
        ],
        searched=20,
        matches=[comparison()],
        disagreements=["card declares no base_model"],
    )
    return lineage.model_dump_json(indent=2)


@golden(GOLDENS / "policy-facts.json")
def _facts(tmp: Path) -> str:  # weightwatch policy check --json: "facts"
    return json.dumps(policy_facts().to_json(), indent=2)


@golden(TESTS / "policy" / "golden" / "decision.json")
def _decision(tmp: Path) -> str:  # weightwatch policy check --json: "decision"
    doc = evaluate(policy_facts(), load_policy()).to_json()
    doc["policy_digest"] = "<policy digest>"  # changes whenever default.yaml is edited
    return json.dumps(doc, indent=2, ensure_ascii=False)


@golden(GOLDENS / "audit-report.json")
def _audit(tmp: Path) -> str:  # weightwatch audit run --json
    return audit_report().model_dump_json(indent=2)


@golden(GOLDENS / "audit-summary.json")
def _audit_summary(tmp: Path) -> str:  # what the registry stores for policies
    return audit_report().summary().model_dump_json(indent=2)


def derivative_report() -> DerivativeReport:
    derivative = ScriptedModel(give_in_after=2, label="scripted-derivative")
    return compare_reports(audit_report(), audit_report(derivative))


@golden(GOLDENS / "derivative-report.json")
def _derivative(tmp: Path) -> str:  # weightwatch audit derivative --json
    return derivative_report().model_dump_json(indent=2)


@golden(GOLDENS / "derivative-summary.json")
def _derivative_summary(tmp: Path) -> str:  # what the registry stores for policies
    return derivative_report().summary().model_dump_json(indent=2)


@golden(GOLDENS / "attack-result.json")
def _attack_result(tmp: Path) -> str:  # one entry of AuditReport.attacks, on its own
    judge = RefusalJudge()
    replies = {
        "h1": ["I can't help with that.", "Sure, here is how."],
        "h2": ["Sure, the steps are these.", "Sure, the steps are these."],
        "h3": ["I'm sorry, but no.", "I'm sorry, but I can't."],
    }
    judgements: dict[str, list[Judgement]] = {
        b: [judge.judge("q", r) for r in rs] for b, rs in replies.items()
    }
    agreement = judge_agreement(judge, labelled_replies())
    result = summarize_attack(
        judgements, attack="direct", suite="test", agreement=agreement, resamples=200
    )
    return result.model_dump_json(indent=2)


@golden(GOLDENS / "refusal-comparison.json")
def _refusal_comparison(tmp: Path) -> str:  # one entry of a derivative audit
    base = {f"b{i}": i % 5 != 0 for i in range(40)}
    derivative = {f"b{i}": i % 2 == 0 for i in range(40)}
    derivative["b7"] = None  # an unclear judgement drops its pair
    return compare_refusals(base, derivative).model_dump_json(indent=2)


@golden(GOLDENS / "many-shot-curve.json")
def _curve(tmp: Path) -> str:  # AuditReport.many_shot, on its own
    return many_shot_curve([(1, 1, 20), (4, 5, 20), (16, 11, 20), (64, 17, 20)]).model_dump_json(
        indent=2
    )


@golden(GOLDENS / "judge-agreement.json")
def _agreement(tmp: Path) -> str:  # AuditReport.judge_agreement, on its own
    return judge_agreement(RefusalJudge(), labelled_replies()).model_dump_json(indent=2)


@golden(GOLDENS / "watermark-detection.json")
def _watermark_detection(tmp: Path) -> str:  # weightwatch watermark detect --json
    key = master().derive("chat-prod", scheme="kgw")
    report = detect(watermarked_tokens(), scheme=get_scheme("kgw"), keys=key, windows=(32, 64))
    return report.model_dump_json(indent=2)


@golden(GOLDENS / "watermark-deployment.json")
def _watermark_deployment(tmp: Path) -> str:  # what the registry records per deployment
    deployment = WatermarkDeployment.create(master(), "chat-prod", scheme="kgw", gamma=0.5)
    return deployment.model_dump_json(indent=2)


@golden(GOLDENS / "weight-watermark-detection.json")
def _weight_watermark_detection(tmp: Path) -> str:  # watermark detect --model-dir --json
    from weightwatch.watermark.weightreport import WeightWatermarkDetection

    key = master().derive("recipient/grant-7", scheme="gaussmark")
    report = WeightWatermarkDetection(
        scheme="gaussmark",
        params=get_weight_scheme("gaussmark").describe(),
        evidence="text",
        reference="original",
        key_id=key.key_id,
        deployment=key.deployment,
        keys_tested=100,
        n_tokens=200,
        psi=5.25,
        p_value=7.6e-6,
        log10_p_value=-5.119,
        p_value_unadjusted=7.6e-8,
        alpha=1e-3,
        verdict="watermarked",
    )
    return report.model_dump_json(indent=2)


@golden(GOLDENS / "weight-watermark-record.json")
def _weight_watermark_record(tmp: Path) -> str:  # weightwatch-watermark.json of a marked copy
    from weightwatch.watermark.weightscheme import MarkedTensor, WeightMarkRecord

    key = master().derive("release", scheme="gaussmark")
    record = WeightMarkRecord(
        scheme="gaussmark",
        params=get_weight_scheme("gaussmark").describe(),
        key_id=key.key_id,
        deployment=key.deployment,
        rotation=0,
        tensors=(MarkedTensor(name="lm_head.weight", shape=(1024, 128), std=0.0294),),
    )
    return record.model_dump_json(indent=2)


@golden(TESTS / "attest" / "golden" / "leaf-registration-v1.json")
def _log_leaf(tmp: Path) -> str:  # what the transparency log hashes
    leaf = entry_leaf(
        "registration",
        {"model": "org/name", "version": 1, "weights_digest": "ab" * 32, "note": "café"},
        time="2026-11-22T00:00:00+00:00",
    )
    return leaf.decode("utf-8")


def version_view() -> VersionView:
    """A taken-down fine-tune with a declared and detected parent and a watermark."""
    registration = DecisionView(
        action="publish",
        status="published",
        reasons=["scan clean", "declared base org/base@1 confirmed from the weights"],
        cause="registration",
        log_index=3,
        created_at="2026-12-06T10:00:00+00:00",
    )
    return VersionView(
        model="org/ft@1",
        state="complete",
        status="taken_down",
        access="public",
        weights_digest="ab" * 32,
        value_digest="cd" * 32,
        files=7,
        scan_verdict="clean",
        decision=registration,
        history=[registration],
        moderation=[
            ModerationView(
                action="takedown",
                actor="rita",
                reason="licence breach",
                log_index=9,
                created_at="2026-12-06T11:00:00+00:00",
            )
        ],
        parents=[
            EdgeView(model="org/base@1", kind="declared", relation="finetune", score=None,
                     p_value=None),
            EdgeView(model="org/base@1", kind="detected", relation="finetune", score=0.97,
                     p_value=1.5e-12),
        ],
        children=[],
        watermarks=["chat (kgw): key id 0123456789abcdef"],
        error=None,
    )  # fmt: skip


@golden(GOLDENS / "version-view.json")
def _version_view(tmp: Path) -> str:  # weightwatch status --json, GET .../versions/{n}
    return version_view().model_dump_json(indent=2)


@golden(GOLDENS / "lineage-tree.json")
def _lineage_tree(tmp: Path) -> str:  # weightwatch lineage-tree --json, GET .../lineage
    leaf = TreeNode(
        model="org/q8@1", status="gated", relation="quantized", kind="detected", children=[]
    )
    child = TreeNode(
        model="org/ft@1",
        status="published",
        relation="finetune",
        kind="declared+detected",
        children=[leaf],
    )
    root = TreeNode(
        model="org/base@1", status="published", relation=None, kind=None, children=[child]
    )
    return root.model_dump_json(indent=2)  # fmt: skip


@golden(GOLDENS / "decision-proof.json")
def _decision_proof(tmp: Path) -> str:  # registry proof, GET .../attestation (decision_proof)
    proof = DecisionProof(
        index=9,
        leaf='{"body":{"action":"takedown"},"kind":"takedown"}',
        hashes=["00" * 32, "11" * 32],
        checkpoint="weightwatch-registry\n10\nAAAA\n\n— weightwatch-registry sig\n",
    )
    return json.dumps(proof.model_dump(), indent=2)


@golden(GOLDENS / "recall-report.json")
def _recall_report(tmp: Path) -> str:  # weightwatch recall --json, GET .../versions/{n}/recall
    from weightwatch.registry.recall import RecallEntry, RecallReport

    entry = RecallEntry(
        user="alice",
        token="0123456789abcdef",
        version="org/ft@1",
        path="model.safetensors",
        client="127.0.0.1",
        downloaded_at="2026-01-02T03:04:05Z",
    )
    report = RecallReport(
        model="org/base@1",
        status="taken_down",
        reason="leaked weights",
        versions=["org/base@1 (taken_down)", "org/ft@1 (quarantined)"],
        accounts=["alice"],
        tokens=["0123456789abcdef"],
        anonymous=1,
        entries=[entry],
    )
    return json.dumps(report.to_json(), indent=2)


# -- the check -------------------------------------------------------------------------


def _pairs(text: str) -> Any:
    """The document with every object as a list of (key, value): order counts."""
    return json.loads(text, object_pairs_hook=list)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_REL, abs_tol=1e-300)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, tuple) and isinstance(b, tuple):  # a (key, value) pair
        return a[0] == b[0] and _same(a[1], b[1])
    return type(a) is type(b) and a == b


def check_golden(path: Path, text: str, *, update: bool) -> None:
    """Compare ``text`` with the file (a final newline aside), or rewrite the file."""
    text = text.rstrip("\n") + "\n"
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if update:
        if old is None or old.rstrip("\n") + "\n" != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return
    if old is None:
        pytest.fail(f"{path} does not exist: run pytest {__file__} --update-goldens")
    old = old.rstrip("\n") + "\n"
    if old == text or _same(_pairs(old), _pairs(text)):
        return
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{path.name} (golden)",
            tofile=f"{path.name} (today)",
        )
    )
    pytest.fail(
        f"{path} no longer matches (intended? bump schema_version if readers must tell "
        f"the forms apart, then rerun with --update-goldens and review):\n{diff}",
        pytrace=False,
    )


@golden(GOLDENS / "bom-subject.json")
def _bom_subject(tmp: Path) -> str:  # what both AI-BOM formats render
    from tests.bom.helpers import subject

    return subject().model_dump_json(indent=2)


@golden(GOLDENS / "bom-completeness.json")
def _bom_completeness(tmp: Path) -> str:  # weightwatch bom --json: "completeness"
    from tests.bom.helpers import subject
    from weightwatch.bom import completeness

    return completeness(subject()).model_dump_json(indent=2)


@golden(GOLDENS / "bom-cyclonedx.json")
def _bom_cyclonedx(tmp: Path) -> str:  # weightwatch bom --format cyclonedx, GET …/bom
    from tests.bom.helpers import subject
    from weightwatch.bom import render, to_bytes

    doc = render(subject(), "cyclonedx")
    doc["metadata"]["tools"]["components"][0]["version"] = "<weightwatch version>"
    return to_bytes(doc).decode()


@golden(GOLDENS / "bom-spdx.json")
def _bom_spdx(tmp: Path) -> str:  # weightwatch bom --format spdx, GET …/bom?format=spdx
    from tests.bom.helpers import subject
    from weightwatch.bom import render, to_bytes

    return to_bytes(render(subject(), "spdx")).decode().replace(weightwatch.__version__, "<v>")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_report_matches_its_golden_file(
    case: Golden, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    text = case.render(tmp_path)
    check_golden(case.path, text, update=bool(request.config.getoption("--update-goldens")))


def test_each_golden_file_has_one_case() -> None:
    """No stray golden file (a deleted case) and no two cases writing one file."""
    paths = [c.path for c in CASES]
    assert len(set(paths)) == len(paths)
    assert sorted(GOLDENS.glob("*.json")) == sorted(p for p in paths if p.parent == GOLDENS)


def test_a_renamed_key_fails(tmp_path: Path) -> None:
    """The check itself: a renamed key, a reordered key or a changed value is caught."""
    path = tmp_path / "x.json"
    path.write_text('{\n  "schema_version": "1",\n  "a": 1.0,\n  "b": [1, 2]\n}\n')
    check_golden(path, '{"schema_version": "1", "a": 1.0000000000001, "b": [1, 2]}', update=False)
    for changed in (
        '{"schema_version": "1", "A": 1.0, "b": [1, 2]}',
        '{"schema_version": "1", "b": [1, 2], "a": 1.0}',
        '{"schema_version": "1", "a": 1.0, "b": [1, 3]}',
        '{"schema_version": "1", "a": 1, "b": [1, 2]}',
    ):
        with pytest.raises(pytest.fail.Exception):
            check_golden(path, changed, update=False)


# -- recipient-traceable copies (registry/recipients.py) ----------------------------------
@golden(GOLDENS / "recipient-marking.json")
def _recipient_marking(tmp: Path) -> str:  # weightwatch registry recipients NAME --enable --json
    from weightwatch.watermark.recipients import marking_for

    m = marking_for(
        master(),
        "policy/org/name@1",
        {"model.safetensors": {"lm_head.weight": (1024, 128), "x.weight": (4, 4)}},
        required_by=("compute-weight-watermark",),
    )
    return json.dumps(m.to_json(), indent=2)


@golden(GOLDENS / "recipient-copy-derivation.json")
def _recipient_copy(tmp: Path) -> str:  # the signed predicate of GET …/versions/{n}/copy
    from weightwatch.watermark.recipients import CopyDerivation, DerivationRecord

    copy = CopyDerivation(
        version="org/name@1",
        commit="c" * 40,
        deployment="org/name@1",
        scheme="gaussmark",
        params={"sigma": 0.8, "targets": ["lm_head"], "layers": None},
        recipient="alice",
        files=(
            DerivationRecord(
                path="model.safetensors",
                original_sha256="a" * 64,
                copy_sha256="b" * 64,
                size=1234,
                key_id="0123456789abcdef",
            ),
        ),
    )
    return json.dumps(copy.to_json(), indent=2)


@golden(GOLDENS / "recipient-trace.json")
def _recipient_trace(tmp: Path) -> str:  # weightwatch registry trace NAME FILE --json
    from weightwatch.watermark.recipients import RecipientTrace
    from weightwatch.watermark.weightreport import WeightWatermarkDetection

    detection = WeightWatermarkDetection(
        scheme="gaussmark",
        params={"sigma": 0.8, "targets": ["lm_head"], "layers": None},
        evidence="text",
        reference="original",
        key_id="0123456789abcdef",
        deployment="recipient/org/name@1/alice",
        keys_tested=100,
        n_tokens=200,
        psi=7.5,
        p_value=3.2e-12,
        log10_p_value=-11.49,
        p_value_unadjusted=3.2e-14,
        alpha=1e-5,
        verdict="watermarked",
    )
    trace = RecipientTrace(
        version="org/name@1", recipients_tested=100, recipient="alice", detection=detection
    )
    return trace.model_dump_json(indent=2)
