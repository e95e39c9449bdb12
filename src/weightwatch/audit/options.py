"""Turning user choices (strings from the CLI or a config file) into audit objects.

Kept out of the CLI so the server and scripts parse the same way: attack lists, judge
specs, suites with an over-refusal companion, and a deterministic ``--limit`` sample.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from weightwatch.audit.attacks import Attack, ManyShot, attack
from weightwatch.audit.attacks.adaptive import Adversary
from weightwatch.audit.datasets import BUILTIN_SUITES, Behavior, load_suite
from weightwatch.audit.judges import Judge, JudgeOptions
from weightwatch.audit.judges import registry as judge_registry
from weightwatch.errors import UsageError


def parse_attacks(text: str, *, many_shot: Sequence[int] = ()) -> tuple[Attack, ...]:
    """``direct,many_shot:k=8,format=inline,encoding:scheme=rot13`` plus a many-shot sweep.

    A comma starts a new attack unless what follows is a bare ``key=value`` (a parameter
    of the attack before it), so specs with several parameters need no quoting.
    """
    specs: list[str] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if "=" in token and ":" not in token and "+" not in token and specs:
            specs[-1] += "," + token
        else:
            specs.append(token)
    attacks = [attack(spec) for spec in specs]
    known = {a.spec for a in attacks}
    for k in many_shot:
        extra = ManyShot(k=k)
        if extra.spec not in known:
            attacks.append(extra)
            known.add(extra.spec)
    if not attacks:
        raise UsageError("no attack given", hint="e.g. --attacks direct,refusal_suppression")
    return tuple(attacks)


# ``--judge keyword`` predates the judge registry's names; it stays an alias.
_JUDGE_ALIASES = {"keyword": "refusal"}


def open_judge(
    spec: str, *, model: str | None = None, api_key: str | None = None, timeout_s: float = 60.0
) -> Judge:
    """A registered judge by name (``refusal``, alias ``keyword``), an OpenAI-compatible
    URL (the ``llm`` judge asking ``model`` there), or ``ensemble:URL`` (the rule judge and
    that model judge together, the model judge arbitrating)."""
    ensemble = spec.startswith("ensemble:")
    rest = spec.removeprefix("ensemble:")
    endpoint = rest if rest.startswith(("http://", "https://")) else None
    if ensemble and endpoint is None:
        raise UsageError(f"--judge {spec}: an ensemble needs a URL (ensemble:http://host/v1)")
    name = "ensemble" if ensemble else "llm" if endpoint else _JUDGE_ALIASES.get(spec, spec)
    options = JudgeOptions(endpoint=endpoint, model=model, api_key=api_key, timeout_s=timeout_s)
    return judge_registry().lookup(name).from_options(options)


def open_adversary(
    attacker: str | None,
    attacker_model: str | None,
    *,
    judge: Judge,
    evaluator: str | None = None,
    evaluator_model: str | None = None,
    api_key: str | None = None,
) -> Adversary | None:
    """The attacker (and evaluator) endpoints adaptive attacks use; None without one."""
    from weightwatch.audit.targets import open_target

    if attacker is None:
        if evaluator is not None:
            raise UsageError("--evaluator scores adaptive attacks: give --attacker too")
        return None
    if not attacker.startswith(("http://", "https://")):
        raise UsageError(f"--attacker {attacker}: give an OpenAI-compatible http(s) URL")
    if evaluator is not None and not evaluator.startswith(("http://", "https://")):
        raise UsageError(f"--evaluator {evaluator}: give an OpenAI-compatible http(s) URL")
    return Adversary(
        attacker=open_target(endpoint=attacker, model=attacker_model, api_key=api_key),
        judge=judge,
        evaluator=(
            None
            if evaluator is None
            else open_target(endpoint=evaluator, model=evaluator_model, api_key=api_key)
        ),
    )


def sample_behaviors(
    behaviors: Sequence[Behavior], limit: int | None, *, seed: int = 0
) -> tuple[Behavior, ...]:
    """Up to ``limit`` behaviours, a stable pseudo-random spread (not the first rows).

    Ranked by a hash of (seed, id), so adding a behaviour to a suite never changes which
    of the others are picked, and base and derivative always get the same sample.
    """
    if limit is None or limit >= len(behaviors):
        return tuple(behaviors)
    if limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")

    def rank(b: Behavior) -> bytes:
        return hashlib.sha256(f"{seed}\0{b.id}".encode()).digest()

    chosen = {b.id for b in sorted(behaviors, key=rank)[:limit]}
    return tuple(b for b in behaviors if b.id in chosen)


def load_behaviors(
    suite: str, *, over_refusal: str | None, limit: int | None, seed: int = 0
) -> tuple[str, tuple[Behavior, ...]]:
    """The suite (plus an over-refusal suite of benign prompts), each limited; and a name.

    ``over_refusal="auto"`` adds XSTest's safe prompts unless the suite brings benign
    prompts of its own; ``None`` adds nothing.
    """
    main = sample_behaviors(load_suite(suite), limit, seed=seed)
    name = suite if suite in BUILTIN_SUITES else Path(suite).name
    if over_refusal == "auto":
        over_refusal = None if any(b.kind == "benign" for b in main) else "xstest-safe"
    if over_refusal is None:
        return name, main
    benign = tuple(b for b in load_suite(over_refusal) if b.kind == "benign")
    if not benign:
        raise UsageError(f"{over_refusal}: holds no benign prompts for over-refusal")
    benign = sample_behaviors(benign, limit, seed=seed)
    ids = {b.id for b in main}
    clash = [b.id for b in benign if b.id in ids]
    if clash:
        raise UsageError(f"{suite} and {over_refusal} share behaviour ids: {', '.join(clash[:3])}")
    over_name = over_refusal if over_refusal in BUILTIN_SUITES else Path(over_refusal).name
    return f"{name}+{over_name}", main + benign
