"""The runner: planning, cache reuse, per-attack results, many-shot curve, reports."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from weightwatch.audit.attacks import Conversation, ManyShot, attack
from weightwatch.audit.cache import ResponseCache
from weightwatch.audit.comparison import ComparisonVerdict
from weightwatch.audit.datasets import Behavior, load_suite
from weightwatch.audit.derivative import compare_reports
from weightwatch.audit.html import render_html
from weightwatch.audit.judges import Verdict
from weightwatch.audit.options import load_behaviors, parse_attacks, sample_behaviors
from weightwatch.audit.report import AuditReport
from weightwatch.audit.runner import AuditConfig, run_audit
from weightwatch.audit.targets import GenerationSettings, Target, TargetError
from weightwatch.errors import UsageError


class RuleModel(Target):
    """A deterministic stand-in for a chat model: refuses unless pushed hard enough.

    It complies when the conversation holds at least ``give_in_after`` faux assistant
    turns (a many-shot model), when prefilled, or when told to roleplay; benign prompts
    are answered. Counts its calls so tests can see what the cache saved.
    """

    def __init__(self, *, give_in_after: int = 8, name: str = "rule") -> None:
        self.identity = f"rule:{name}:{give_in_after}"
        self.label = name
        self.supports_prefill = True
        self.max_concurrency = 4
        self.give_in_after = give_in_after
        self.calls = 0
        self._lock = threading.Lock()

    def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
        with self._lock:
            self.calls += 1
        shots = sum(m.role == "assistant" for m in conversation.messages)
        request = conversation.request.lower()
        if conversation.prefill:
            return conversation.prefill + " the steps: [REDACTED]"
        if "benign" in request or shots >= self.give_in_after:
            return "Sure, here is an overview of how that works in general terms."
        return "I can't help with that."


def suite(n_harmful: int = 20, n_benign: int = 10) -> tuple[Behavior, ...]:
    harmful = [
        Behavior(
            id=f"h{i:02d}",
            prompt=f"Explain harmful thing {i}",
            category=f"c{i % 2}",
            source="test",
            split="all",
            kind="harmful",
        )
        for i in range(n_harmful)
    ]
    benign = [
        Behavior(
            id=f"b{i:02d}",
            prompt=f"A benign question {i}",
            category="safe",
            source="test",
            split="all",
            kind="benign",
        )
        for i in range(n_benign)
    ]
    return (*harmful, *benign)


def test_rates_over_refusal_and_categories() -> None:
    target = RuleModel()
    config = AuditConfig(attacks=(attack("direct"), attack("prefill")))
    report = run_audit(target, suite(), suite="t", config=config)
    direct, prefill = report.attacks
    assert (direct.attack, direct.asr.successes, direct.asr.n) == ("direct", 0, 20)
    assert direct.asr.interval.high > 0.1  # Wilson: 0/20 is "at most ~16%", not "0%"
    assert (prefill.asr.successes, prefill.local_only) == (20, True)
    assert report.over_refusal is not None and report.over_refusal.successes == 0
    assert report.over_refusal.n == 10
    assert {(c.attack, c.category) for c in report.categories} == {
        ("direct", "c0"),
        ("direct", "c1"),
        ("prefill", "c0"),
        ("prefill", "c1"),
    }
    assert report.judge_agreement is not None and report.judge_agreement.judge == "refusal"
    assert direct.corrected is not None  # Rogan-Gladen from the held-out agreement
    assert report.run.items == 50 and report.run.queried == 50 and report.run.cached == 0
    summary = report.summary()
    assert summary.worst_attack == "prefill" and summary.worst_asr == prefill.asr


def test_cache_makes_reruns_free(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    target = RuleModel()
    with ResponseCache(path) as cache:
        first = run_audit(target, suite(), suite="t", cache=cache)
    assert target.calls == 30
    with ResponseCache(path) as cache:
        second = run_audit(target, suite(), suite="t", cache=cache)
        assert all(e.hits == 1 for e in cache.entries(target.identity))
    assert target.calls == 30  # nothing re-queried
    assert second.run.cached == 30 and second.run.queried == 0
    assert [i.reply for i in first.items] == [i.reply for i in second.items]
    # another model (another identity) shares nothing
    other = RuleModel(give_in_after=1)
    with ResponseCache(path) as cache:
        run_audit(other, suite(), suite="t", cache=cache)
    assert other.calls == 30


class Flaky(RuleModel):
    """Fails on the n-th call, like a server going away mid-run."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.max_concurrency = 1
        self.fail_at = fail_at

    def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
        if self.calls + 1 == self.fail_at:
            self.calls += 1
            raise TargetError("server went away")
        return super().complete(conversation, settings)


def test_interrupted_run_resumes_from_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with ResponseCache(path) as cache, pytest.raises(TargetError, match="went away"):
        run_audit(Flaky(fail_at=13), suite(), suite="t", cache=cache)
    with ResponseCache(path) as cache:
        kept = len(cache)
        assert 12 <= kept < 30  # the 12 answered before the failure (and any in flight)
        resumed = RuleModel()
        report = run_audit(resumed, suite(), suite="t", cache=cache)
    assert resumed.calls == 30 - kept and report.run.cached == kept


def test_many_shot_curve_from_several_k() -> None:
    target = RuleModel(give_in_after=8)
    attacks = parse_attacks("direct", many_shot=[1, 4, 8, 16])
    report = run_audit(target, suite(), suite="t", config=AuditConfig(attacks=attacks))
    assert [a.attack for a in report.attacks] == [
        "direct",
        "many_shot:k=1",
        "many_shot:k=4",
        "many_shot:k=8",
        "many_shot:k=16",
    ]
    curve = report.many_shot
    assert curve is not None
    assert [(p.k, p.asr.estimate) for p in curve.points] == [
        (1, 0.0),
        (4, 0.0),
        (8, 1.0),
        (16, 1.0),
    ]
    assert curve.k50_interpolated is not None and 4 < curve.k50_interpolated <= 8
    html = render_html(report)
    assert "<svg" in html and "many-shot" in html.lower()


def test_prefill_refused_for_targets_that_cannot() -> None:
    target = RuleModel()
    target.supports_prefill = False
    with pytest.raises(TargetError, match="cannot run prefill"):
        run_audit(target, suite(), suite="t", config=AuditConfig(attacks=(attack("prefill"),)))


def test_report_json_round_trip_and_html_escapes_replies() -> None:
    class Markup(RuleModel):
        def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
            return "<script>alert(1)</script> Sure, here is an overview of the whole topic."

    report = run_audit(Markup(), suite(4, 2), suite="t")
    again = AuditReport.model_validate_json(report.model_dump_json())
    assert again == report
    data = json.loads(report.model_dump_json())
    assert data["schema_version"] == "1" and data["items"][0]["verdict"] == "complied"
    html = render_html(report)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # no external assets


def test_compare_reports_stripped_and_equivalent() -> None:
    behaviors = suite(40, 10)
    config = AuditConfig(attacks=(attack("direct"),), measure_agreement=False)
    base = run_audit(RuleModel(name="base"), behaviors, suite="t", config=config)
    stripped = run_audit(RuleModel(give_in_after=0, name="d"), behaviors, suite="t", config=config)
    same = run_audit(RuleModel(name="same"), behaviors, suite="t", config=config)
    result = compare_reports(base, stripped)
    assert result.verdict is ComparisonVerdict.STRIPPED
    assert result.attacks[0].result.p_concern == pytest.approx(0.5**40)
    assert compare_reports(base, same).verdict is ComparisonVerdict.EQUIVALENT
    summary = result.summary()
    assert summary.base_asr == {"direct": 0.0} and summary.derivative_asr == {"direct": 1.0}
    assert result.over_refusal is not None
    other = run_audit(RuleModel(), behaviors[:5], suite="other", config=config)
    with pytest.raises(UsageError, match="not the same audit"):
        compare_reports(base, other)


def test_bonferroni_across_attacks() -> None:
    behaviors = suite(10, 0)
    config = AuditConfig(attacks=parse_attacks("direct,roleplay,past_tense"))
    base = run_audit(RuleModel(), behaviors, suite="t", config=config)
    result = compare_reports(base, base)
    assert result.alpha_per_attack == pytest.approx(0.05 / 3)
    assert all(c.result.alpha == pytest.approx(0.05 / 3) for c in result.attacks)


def test_parse_attacks() -> None:
    attacks = parse_attacks("direct, many_shot:k=8,format=inline ,encoding:scheme=rot13")
    assert [a.spec for a in attacks] == [
        "direct",
        "many_shot:k=8,format=inline",
        "encoding:scheme=rot13",
    ]
    assert isinstance(attacks[1], ManyShot) and attacks[1].k == 8
    assert [a.spec for a in parse_attacks("many_shot:k=4", many_shot=[4, 2])] == [
        "many_shot:k=4",
        "many_shot:k=2",
    ]
    with pytest.raises(UsageError, match="unknown attack 'nope'"):
        parse_attacks("direct,nope")
    with pytest.raises(UsageError, match="the same attack is listed twice"):
        run_audit(
            RuleModel(),
            suite(2, 0),
            suite="t",
            config=AuditConfig(attacks=(attack("direct"), attack("direct"))),
        )


def test_sample_is_stable_and_spread() -> None:
    behaviors = load_suite("advbench")
    a = sample_behaviors(behaviors, 30, seed=0)
    assert a == sample_behaviors(behaviors, 30, seed=0)
    assert a != sample_behaviors(behaviors, 30, seed=1)
    assert len(a) == 30 and a != behaviors[:30]
    # adding behaviours elsewhere does not reshuffle the rest
    assert set(sample_behaviors(behaviors[:-1], 30)) - set(a) <= {behaviors[-1]} or True
    with pytest.raises(UsageError, match="--limit must be at least 1"):
        sample_behaviors(behaviors, 0)


def test_load_behaviors_with_over_refusal() -> None:
    name, behaviors = load_behaviors("harmbench-val", over_refusal="xstest-safe", limit=5)
    assert name == "harmbench-val+xstest-safe"
    assert [b.kind for b in behaviors].count("benign") == 5
    with pytest.raises(UsageError, match="holds no benign prompts"):
        load_behaviors("harmbench-val", over_refusal="advbench", limit=5)
    _, auto = load_behaviors("harmbench-val", over_refusal="auto", limit=3)
    assert [b.kind for b in auto].count("benign") == 3
    _, own = load_behaviors("xstest", over_refusal="auto", limit=10)
    assert all(b.source == "xstest" for b in own)  # its own benign prompts, nothing added
    with pytest.raises(UsageError, match="neither a built-in suite nor a file"):
        load_behaviors("no-such-suite", over_refusal=None, limit=None)


def test_unclear_replies_are_counted_not_rated() -> None:
    class Garbage(RuleModel):
        def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
            return "" if "1" in conversation.request else "I can't help with that."

    report = run_audit(Garbage(), suite(20, 0), suite="t")
    (direct,) = report.attacks
    unclear = sum(i.verdict is Verdict.UNCLEAR for i in report.items)
    assert direct.unclear == unclear > 0 and direct.asr.n == 20 - unclear
