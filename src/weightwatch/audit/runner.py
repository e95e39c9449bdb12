"""Run an audit: behaviours × attacks → conversations → target (through the cache) → judge.

Replies come from the response cache when the same request was answered before; the rest
are queried with at most ``concurrency`` calls in flight, and each reply is cached the
moment it arrives, so a run that is killed resumes where it stopped. Harmful behaviours
get every attack; benign behaviours get the direct request only (their refusals are
over-refusal). The runner reports progress through a callback, so the core does no I/O
beyond the target and the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import resources

from weightwatch.audit.attacks import Attack, Conversation, ManyShot
from weightwatch.audit.attacks.adaptive import Adversary, Caller, is_adaptive
from weightwatch.audit.attacks.direct import Direct
from weightwatch.audit.cache import ResponseCache, cache_key, request_json
from weightwatch.audit.curve import ManyShotCurve, many_shot_curve
from weightwatch.audit.datasets import Behavior
from weightwatch.audit.judges import Agreement, Judge, Judgement, RefusalJudge, Verdict
from weightwatch.audit.judges.agreement import LabelledReply, judge_agreement, load_judge_labels
from weightwatch.audit.report import (
    AuditItem,
    AuditReport,
    CategoryResult,
    RunStats,
    TargetInfo,
)
from weightwatch.audit.results import AttackResult, summarize_attack
from weightwatch.audit.search import run_searches, search_notes
from weightwatch.audit.stats import Proportion, proportion
from weightwatch.audit.targets.base import GenerationSettings, Target, TargetError
from weightwatch.errors import UsageError

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class AuditConfig:
    """What to run; the same config on two targets gives paired, comparable reports."""

    attacks: tuple[Attack, ...] = (Direct(),)
    judge: Judge = field(default_factory=RefusalJudge)
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    seed: int = 0
    concurrency: int | None = None  # default: what the target says it can take
    measure_agreement: bool = True  # judge the held-out labelled set, state it in the report
    adversary: Adversary | None = None  # attacker (and evaluator) for adaptive attacks


@dataclass(frozen=True)
class _Planned:
    behavior: Behavior
    attack: Attack
    conversation: Conversation
    key: str
    request: str


def heldout_labels() -> tuple[LabelledReply, ...]:
    """The labelled replies no judge was tuned on."""
    node = resources.files("weightwatch.audit").joinpath("data", "judge_labels_heldout.jsonl")
    with resources.as_file(node) as path:
        return load_judge_labels(path)


def heldout_agreement(judge: Judge) -> Agreement:
    """The judge's agreement with the labelled replies it was never tuned on."""
    return judge_agreement(judge, heldout_labels())


def check_attacks(target: Target, config: AuditConfig) -> None:
    """Refuse attacks the target cannot honour (a dropped prefill would measure ``direct``)."""
    local = [a.spec for a in config.attacks if a.local_only]
    if local and not target.supports_prefill:
        raise TargetError(
            f"{target.label}: cannot run {', '.join(local)} (needs control over decoding)",
            hint="run prefill attacks against a local model (--model-dir)",
        )


def check_config(target: Target, config: AuditConfig) -> None:
    """Refuse a config that cannot run, before any query is made."""
    if not config.attacks:
        raise UsageError("an audit needs at least one attack")
    specs = [a.spec for a in config.attacks]
    if len(set(specs)) != len(specs):
        raise UsageError(f"the same attack is listed twice: {', '.join(specs)}")
    check_attacks(target, config)
    adaptive = [a.spec for a in config.attacks if is_adaptive(a)]
    if adaptive and config.adversary is None:
        raise UsageError(
            f"{', '.join(adaptive)}: adaptive attacks need an attacker model",
            hint="give --attacker URL --attacker-model NAME",
        )


def plan(
    target: Target,
    behaviors: Sequence[Behavior],
    config: AuditConfig,
    searched: Mapping[tuple[str, str], Conversation] | None = None,
) -> list[_Planned]:
    """Every (behaviour, attack) request of the audit, in a stable order; an adaptive
    attack's conversation is what its search found (``searched``, by behaviour and spec)."""
    check_config(target, config)
    harmful = [b for b in behaviors if b.kind == "harmful"]
    planned: list[_Planned] = []

    def add(behavior: Behavior, attack: Attack) -> None:
        if is_adaptive(attack):
            conversation = (searched or {})[(behavior.id, attack.spec)]
        else:
            conversation = attack.run(behavior, pool=harmful, seed=config.seed)
        request = request_json(target.identity, conversation, config.settings)
        key = cache_key(target.identity, conversation, config.settings)
        planned.append(_Planned(behavior, attack, conversation, key, request))

    for behavior in behaviors:
        if behavior.kind == "harmful":
            for attack in config.attacks:
                add(behavior, attack)
        else:
            add(behavior, Direct())
    return planned


def collect_replies(
    target: Target,
    planned: Sequence[_Planned],
    *,
    cache: ResponseCache,
    settings: GenerationSettings,
    concurrency: int,
    progress: Progress | None = None,
) -> tuple[dict[str, str], set[str]]:
    """Replies by cache key, and the keys that were answered from the cache."""
    replies: dict[str, str] = {}
    by_key = {p.key: p for p in planned}
    for key in by_key:
        hit = cache.get(key)
        if hit is not None:
            replies[key] = hit
    cached = set(replies)
    total = len(by_key)
    if progress:
        progress(len(replies), total)
    todo = [p for key, p in by_key.items() if key not in replies]
    if not todo:
        return replies, cached
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="audit") as pool:
        futures: dict[Future[str], _Planned] = {
            pool.submit(target.complete, p.conversation, settings): p for p in todo
        }
        pending: set[Future[str]] = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                failed = [f for f in done if f.exception() is not None]
                for future in done:
                    if future.exception() is None:
                        item = futures[future]
                        reply = future.result()
                        cache.put(
                            item.key, target=target.identity, request=item.request, response=reply
                        )
                        replies[item.key] = reply
                if progress:
                    progress(len(replies), total)
                if failed:  # a failed call stops the run; every finished reply is kept
                    failed[0].result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return replies, cached


def run_audit(
    target: Target,
    behaviors: Sequence[Behavior],
    *,
    suite: str,
    config: AuditConfig | None = None,
    cache: ResponseCache | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Audit ``target`` on ``behaviors``; ``cache`` defaults to a throwaway in-memory one."""
    config = config or AuditConfig()
    if not behaviors:
        raise UsageError(f"suite {suite!r} holds no behaviours")
    started = time.monotonic()
    check_config(target, config)
    own_cache = cache is None
    if cache is None:  # not ``cache or …``: an empty cache is falsy (it has __len__)
        cache = ResponseCache(":memory:")
    try:
        outcomes = run_searches(
            target,
            behaviors,
            config.attacks,
            adversary=config.adversary,
            settings=config.settings,
            caller=Caller(cache),
            concurrency=max(1, config.concurrency or target.max_concurrency),
            progress=progress,
        )
        planned = plan(target, behaviors, config, {k: o.conversation for k, o in outcomes.items()})
        replies, cached = collect_replies(
            target,
            planned,
            cache=cache,
            settings=config.settings,
            concurrency=max(1, config.concurrency or target.max_concurrency),
            progress=progress,
        )
    finally:
        if own_cache:
            cache.close()
    items = _judge(planned, replies, cached, config)
    agreement = heldout_agreement(config.judge) if config.measure_agreement else None
    attacks, categories, notes = _per_attack(planned, items, suite, config.judge.name, agreement)
    notes.extend(search_notes(outcomes))
    return AuditReport(
        target=TargetInfo(
            label=target.label, identity=target.identity, supports_prefill=target.supports_prefill
        ),
        suite=suite,
        settings=config.settings,
        seed=config.seed,
        judge_agreement=agreement,
        attacks=tuple(attacks),
        categories=tuple(categories),
        over_refusal=_over_refusal(items),
        many_shot=_curve(config.attacks, attacks),
        items=tuple(items),
        run=RunStats(
            items=len(items),
            cached=sum(i.cached for i in items),
            queried=len({p.key for p in planned} - cached),
            seconds=round(time.monotonic() - started, 3),
        ),
        notes=tuple(notes),
    )


def _judge(
    planned: Sequence[_Planned],
    replies: Mapping[str, str],
    cached: set[str],
    config: AuditConfig,
) -> list[AuditItem]:
    def one(p: _Planned) -> Judgement:
        return config.judge.judge(p.behavior.request, p.attack.decode_reply(replies[p.key]))

    workers = 1 if isinstance(config.judge, RefusalJudge) else max(1, config.concurrency or 4)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge") as pool:
        judgements = list(pool.map(one, planned))
    return [
        AuditItem(
            behavior_id=p.behavior.id,
            kind=p.behavior.kind,
            category=p.behavior.category,
            attack=p.attack.spec,
            cache_key=p.key,
            cached=p.key in cached,
            reply=replies[p.key],
            verdict=j.verdict,
            matched=j.matched,
            flags=j.flags,
        )
        for p, j in zip(planned, judgements, strict=True)
    ]


def _per_attack(
    planned: Sequence[_Planned],
    items: Sequence[AuditItem],
    suite: str,
    judge: str,
    agreement: Agreement | None,
) -> tuple[list[AttackResult], list[CategoryResult], list[str]]:
    attacks: list[AttackResult] = []
    categories: list[CategoryResult] = []
    notes: list[str] = []
    local = {p.attack.spec: p.attack.local_only for p in planned}
    for spec in dict.fromkeys(i.attack for i in items if i.kind == "harmful"):
        mine = [i for i in items if i.kind == "harmful" and i.attack == spec]
        judgements = {i.behavior_id: [Judgement(verdict=i.verdict, judge=judge)] for i in mine}
        try:
            attacks.append(
                summarize_attack(
                    judgements,
                    attack=spec,
                    suite=suite,
                    local_only=local[spec],
                    agreement=agreement,
                )
            )
        except UsageError as exc:
            notes.append(f"{spec}: {exc.message}")
            continue
        for category in sorted({i.category for i in mine}):
            clear = [i for i in mine if i.category == category and i.refused is not None]
            if clear:
                successes = sum(i.verdict is Verdict.COMPLIED for i in clear)
                categories.append(
                    CategoryResult(
                        attack=spec, category=category, asr=proportion(successes, len(clear))
                    )
                )
    return attacks, categories, notes


def _over_refusal(items: Sequence[AuditItem]) -> Proportion | None:
    clear = [i for i in items if i.kind == "benign" and i.refused is not None]
    if not clear:
        return None
    return proportion(sum(bool(i.refused) for i in clear), len(clear))


def _curve(attacks: Sequence[Attack], results: Sequence[AttackResult]) -> ManyShotCurve | None:
    by_spec = {r.attack: r for r in results}
    counts = [
        (a.k, by_spec[a.spec].asr.successes, by_spec[a.spec].asr.n)
        for a in attacks
        if isinstance(a, ManyShot) and a.spec in by_spec
    ]
    if len({k for k, _, _ in counts}) < 2 or len(counts) != len({k for k, _, _ in counts}):
        return None
    return many_shot_curve(counts)
