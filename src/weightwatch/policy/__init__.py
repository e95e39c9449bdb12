"""Policy: facts about a model, a declarative policy over them, and a decision.

The pipeline is ``facts_for(path, ...)`` (or ``build_facts(artifact, ...)``) → ``Facts``;
``load_policy(path | None)`` → ``Policy``; ``evaluate(facts, policy)`` → ``Decision``
(publish | gate | quarantine | block, with every reason and the rule that gave it).
A registry describes a version as one ``PolicyContext`` (``context``) and gets its facts
from ``context_facts``.
This package owns the compute-tier estimate (``compute``), the licence catalogue and
its inherited obligations (``licences``), the model-card checklist (``card``) and the
rule language (``rules``, ``engine``). It is pure: no database, no network.
"""

from weightwatch.policy.build import (
    FactsConfig,
    build_facts,
    context_facts,
    default_catalogue,
    facts_for,
)
from weightwatch.policy.card import DEFAULT_CHECKLIST, CardCheck, CardFacts, check_card
from weightwatch.policy.compute import DEFAULT_TIERS, ComputeEstimate
from weightwatch.policy.context import (
    DeclaredBases,
    ParentRecord,
    PolicyContext,
    StoredDecision,
    StoredFacts,
    Waiver,
    declared_bases,
)
from weightwatch.policy.engine import (
    ACTIONS,
    Decision,
    Policy,
    Reason,
    default_policy,
    evaluate,
    load_policy,
    loads_policy,
)
from weightwatch.policy.facts import Facts, WithdrawnMatch
from weightwatch.policy.licences import Catalogue, Licence, load_catalogue

__all__ = [
    "ACTIONS",
    "DEFAULT_CHECKLIST",
    "DEFAULT_TIERS",
    "CardCheck",
    "CardFacts",
    "Catalogue",
    "ComputeEstimate",
    "Decision",
    "DeclaredBases",
    "Facts",
    "FactsConfig",
    "Licence",
    "ParentRecord",
    "Policy",
    "PolicyContext",
    "Reason",
    "StoredDecision",
    "StoredFacts",
    "Waiver",
    "WithdrawnMatch",
    "build_facts",
    "check_card",
    "context_facts",
    "declared_bases",
    "default_catalogue",
    "default_policy",
    "evaluate",
    "facts_for",
    "load_catalogue",
    "load_policy",
    "loads_policy",
]
