"""Running adaptive attacks' searches for an audit, one behaviour per worker.

Searches of different behaviours are independent and run in parallel (``concurrency``
workers); one search is sequential, which is what makes it replay exactly from the
response cache after a kill. Every finished query is already in the cache, so a failed
call ends the run with nothing lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from weightwatch.audit.attacks.adaptive import AdaptiveAttack, Adversary, Caller, Outcome
from weightwatch.audit.attacks.base import Attack
from weightwatch.audit.datasets import Behavior
from weightwatch.audit.targets.base import GenerationSettings, Target
from weightwatch.errors import UsageError

Key = tuple[str, str]  # (behaviour id, attack spec)


def run_searches(
    target: Target,
    behaviors: Sequence[Behavior],
    attacks: Sequence[Attack],
    *,
    adversary: Adversary | None,
    settings: GenerationSettings,
    caller: Caller,
    concurrency: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[Key, Outcome]:
    """Each adaptive attack's outcome on each harmful behaviour (none without one)."""
    adaptive = [a for a in attacks if isinstance(a, AdaptiveAttack)]
    harmful = [b for b in behaviors if b.kind == "harmful"]
    jobs = [(b, a) for b in harmful for a in adaptive]
    if not jobs:
        return {}
    if adversary is None:
        raise UsageError("adaptive attacks need an attacker model (--attacker)")
    found: dict[Key, Outcome] = {}

    def one(job: tuple[Behavior, AdaptiveAttack]) -> tuple[Key, Outcome]:
        behavior, attack = job
        outcome = attack.search(
            behavior, target=target, settings=settings, adversary=adversary, caller=caller
        )
        return (behavior.id, attack.spec), outcome

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="search") as pool:
        for key, outcome in pool.map(one, jobs):
            found[key] = outcome
            if progress:
                progress(len(found), len(jobs))
    return found


def search_notes(outcomes: Mapping[Key, Outcome]) -> list[str]:
    """One line per adaptive attack: target queries spent and why the searches stopped."""
    notes: list[str] = []
    for spec in dict.fromkeys(spec for _, spec in outcomes):
        mine = [o for (_, s), o in outcomes.items() if s == spec]
        stops = Counter(o.stop for o in mine)
        queries = sum(o.queries for o in mine)
        why = ", ".join(f"{stops[s]} {s}" for s in ("success", "budget", "exhausted") if stops[s])
        notes.append(
            f"{spec}: {queries} target queries over {len(mine)} behaviours "
            f"(mean {queries / len(mine):.1f}); searches stopped: {why}"
        )
    return notes
