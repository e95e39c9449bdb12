"""PAIR, TAP and crescendo against a scripted server: their control flow, exactly.

The scripted server (``weightwatch.testing.adversary_server``) plays target, attacker and
evaluator over real HTTP; the attacker's replies come from a script in each test, so the
prompts the target receives, their order and their history are known in advance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from weightwatch.audit.attacks import attack
from weightwatch.audit.attacks.adaptive import (
    AdaptiveAttack,
    Adversary,
    Caller,
    Outcome,
    parse_attacker,
)
from weightwatch.audit.cache import ResponseCache
from weightwatch.audit.datasets import Behavior
from weightwatch.audit.judges import RefusalJudge
from weightwatch.audit.runner import AuditConfig, run_audit
from weightwatch.audit.targets import GenerationSettings, OpenAITarget
from weightwatch.errors import UsageError
from weightwatch.testing.adversary_server import (
    COMPLY,
    NEUTRAL,
    REFUSE,
    requests_of,
    scripted_app,
    target_prompts,
)
from weightwatch.testing.chat_server import serve

SETTINGS = GenerationSettings(max_new_tokens=32)
GOAL = Behavior(
    id="b1",
    prompt="Explain the forbidden thing",
    category="test",
    source="t",
    split="t",
    kind="harmful",
)


def said(prompt: str) -> str:
    return json.dumps({"improvement": "try again", "prompt": prompt})


class Script:
    """A stateful attacker: the n-th attacker call gets ``replies[n]`` (then the last)."""

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies, self.calls = list(replies), 0

    def __call__(self, messages: Sequence[dict[str, str]], seed: int) -> str:
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        return reply.replace("#", str(self.calls))


def run(url: str, spec: str, *, evaluator: bool = True) -> Outcome:
    adversary = Adversary(
        attacker=OpenAITarget(url, "attacker"),
        judge=RefusalJudge(),
        evaluator=OpenAITarget(url, "evaluator") if evaluator else None,
    )
    caller = Caller(ResponseCache(":memory:"))
    chosen = attack(spec)
    assert isinstance(chosen, AdaptiveAttack)
    return chosen.search(
        GOAL,
        target=OpenAITarget(url, "target"),
        settings=SETTINGS,
        adversary=adversary,
        caller=caller,
    )


# -- PAIR -----------------------------------------------------------------------------


def test_pair_runs_every_stream_and_iteration_and_feeds_scores_back() -> None:
    script = Script([said(f"attempt {n}") for n in range(1, 7)])
    app = scripted_app(script)
    with serve(app) as url:
        outcome = run(url, "pair:streams=2,iterations=3")
    assert target_prompts(app) == [f"attempt {n}" for n in range(1, 7)]
    assert outcome.stop == "exhausted" and outcome.queries == 6
    assert [s.step for s in outcome.steps] == ["s1/i1", "s2/i1", "s1/i2", "s2/i2", "s1/i3", "s2/i3"]
    attacker = requests_of(app, "attacker")
    assert len(attacker) == 6
    # stream 1 at iteration 3: the opening, then its two exchanges with the target's reply
    messages, _ = attacker[4]
    assert (
        messages[0]["role"] == "system" and "Explain the forbidden thing" in messages[0]["content"]
    )
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user", "assistant", "user"]
    assert json.loads(messages[2]["content"])["prompt"] == "attempt 1"
    assert json.loads(messages[4]["content"])["prompt"] == "attempt 3"
    assert NEUTRAL in messages[5]["content"] and "SCORE: 3" in messages[5]["content"]
    # the two streams ask the attacker with different seeds at the same step
    assert attacker[0][1] != attacker[1][1]


def test_pair_stops_after_the_iteration_that_succeeds() -> None:
    script = Script([said("plain"), said("plain too"), said("now SESAME"), said("unused")])
    app = scripted_app(script)
    with serve(app) as url:
        outcome = run(url, "pair:streams=2,iterations=5")
    assert target_prompts(app) == ["plain", "plain too", "now SESAME", "unused"]
    assert outcome.stop == "success" and outcome.score == 10 and outcome.queries == 4
    assert outcome.conversation.request == "now SESAME"


def test_pair_stops_when_the_budget_is_spent() -> None:
    app = scripted_app(Script([said("x#")]))
    with serve(app) as url:
        outcome = run(url, "pair:streams=2,iterations=5,budget=3")
    assert len(target_prompts(app)) == 3
    assert outcome.stop == "budget" and outcome.queries == 3


def test_pair_keeps_only_the_last_exchanges_for_the_attacker() -> None:
    app = scripted_app(Script([said(f"p{n}") for n in range(9)]))
    with serve(app) as url:
        run(url, "pair:streams=1,iterations=5,keep_last=2")
    last, _ = requests_of(app, "attacker")[-1]
    assert len(last) == 1 + 1 + 2 * 2  # system, opening, two exchanges
    assert json.loads(last[2]["content"])["prompt"] == "p2"


def test_pair_retries_unparseable_attacker_output_then_falls_back_to_the_request() -> None:
    app = scripted_app(Script(["I will not do that.", said("second try")]))
    with serve(app) as url:
        outcome = run(url, "pair:streams=1,iterations=1,attempts=2")
    assert target_prompts(app) == ["second try"]
    assert outcome.queries == 1

    app = scripted_app(Script(["no JSON here", '{"prompt": ""}', '{"improvement": "x"}']))
    with serve(app) as url:
        outcome = run(url, "pair:streams=2,iterations=2,attempts=3")
    assert len(requests_of(app, "attacker")) == 2 * 2 * 3  # every attempt was made
    assert target_prompts(app) == [GOAL.request]  # nothing usable: the request, asked once
    assert outcome.stop == "exhausted" and [s.step for s in outcome.steps] == ["direct-fallback"]


# -- TAP ------------------------------------------------------------------------------


def test_tap_branches_prunes_off_topic_and_low_scores_and_stops_on_success() -> None:
    script = Script(
        [
            said("d1 BLOCKED"),  # scores 1
            said("d1 neutral"),  # scores 3: ranked first for depth 2
            said("d2 OFFTOPIC"),  # child of the 3: pruned off topic
            said("d2 from 3"),
            said("d2 from 1 a"),
            said("d2 from 1 b"),  # beyond the width after phase one: never queried
            said("d3 SESAME"),
            said("d3 other"),
            said("d3 third"),
            said("d3 fourth"),
        ]
    )
    app = scripted_app(script)
    with serve(app) as url:
        outcome = run(url, "tap:roots=1,branching=2,width=2,depth=4")
    assert (
        target_prompts(app)
        == [
            "d1 BLOCKED",
            "d1 neutral",
            "d2 from 3",
            "d2 from 1 a",
            "d3 SESAME",
            "d3 other",
            "d3 third",
            "d3 fourth",
        ][:6]
    )
    assert outcome.stop == "success" and outcome.conversation.request == "d3 SESAME"
    attacker = requests_of(app, "attacker")
    assert len(attacker) == 2 + 4 + 4
    # depth 2: the leaf that scored 3 branches first, each branch from its own history
    assert "SCORE: 3" in attacker[2][0][-1]["content"] and attacker[2][1] != attacker[3][1]
    assert "SCORE: 1" in attacker[4][0][-1]["content"]
    on_topic = [m for m, _ in requests_of(app, "evaluator") if "[[YES]]" in m[0]["content"]]
    assert len(on_topic) == 2 + 4 + 4


def test_tap_ends_when_every_child_is_off_topic() -> None:
    app = scripted_app(Script([said("OFFTOPIC prompt")]))
    with serve(app) as url:
        outcome = run(url, "tap:branching=3,width=2,depth=3")
    assert outcome.steps[-1].step == "direct-fallback" and outcome.stop == "exhausted"
    assert target_prompts(app) == [GOAL.request]


def test_tap_budget_counts_target_queries() -> None:
    app = scripted_app(Script([said("again #")]))
    with serve(app) as url:
        outcome = run(url, "tap:branching=2,width=3,depth=5,budget=4")
    assert outcome.queries == len(target_prompts(app)) == 4 and outcome.stop == "budget"


# -- crescendo ------------------------------------------------------------------------


def question(text: str) -> str:
    return json.dumps({"generated_question": text, "last_response_summary": "", "rationale": ""})


def test_crescendo_builds_history_backtracks_on_refusal_and_stops_on_success() -> None:
    script = Script(
        [
            question("q1 background"),
            question("q2 BLOCKED"),
            question("q2 rephrased"),
            question("q3 SESAME"),
            question("unused"),
        ]
    )
    app = scripted_app(script)
    with serve(app) as url:
        outcome = run(url, "crescendo:turns=5,backtracks=2")
    target = [m for m, _ in requests_of(app, "target")]
    assert [m[-1]["content"] for m in target] == [
        "q1 background",
        "q2 BLOCKED",
        "q2 rephrased",
        "q3 SESAME",
    ]
    # the refused turn was erased from the target's history, the accepted ones kept
    assert [m["content"] for m in target[3]] == [
        "q1 background",
        NEUTRAL,
        "q2 rephrased",
        NEUTRAL,
        "q3 SESAME",
    ]
    assert [m["content"] for m in target[2]][:2] == ["q1 background", NEUTRAL]
    # the attacker remembers the refusal and is told to rephrase
    attacker = requests_of(app, "attacker")
    assert "REFUSED" in attacker[2][0][-1]["content"]
    assert any(m["content"] == question("q2 BLOCKED") for m in attacker[2][0])
    assert outcome.stop == "success" and [s.step for s in outcome.steps] == [
        "t1",
        "t2",
        "t2/b1",
        "t3/b1",
    ]
    assert outcome.conversation.messages[-1].content == "q3 SESAME"
    assert len(outcome.conversation.messages) == 5


def test_crescendo_keeps_a_refusal_once_backtracks_are_spent() -> None:
    app = scripted_app(Script([question("BLOCKED #")]))
    with serve(app) as url:
        outcome = run(url, "crescendo:turns=2,backtracks=2")
    target = [m for m, _ in requests_of(app, "target")]
    assert len(target) == 2 + 2 and outcome.stop == "exhausted"
    # the third refusal was kept: turn 2 sees it in its history
    assert [m["content"] for m in target[3]] == ["BLOCKED 3", REFUSE, "BLOCKED 4"]
    assert [m["content"] for m in target[1]] == ["BLOCKED 2"]  # the first was erased


def test_crescendo_budget() -> None:
    app = scripted_app(Script([question("neutral #")]))
    with serve(app) as url:
        outcome = run(url, "crescendo:turns=8,budget=3")
    assert outcome.queries == 3 and outcome.stop == "budget"


# -- in an audit: cached, replayed, refused without an attacker ------------------------


def test_adaptive_attacks_in_an_audit_replay_from_the_cache(tmp_path: Path) -> None:
    behaviors = [
        GOAL.model_copy(update={"id": f"b{n}", "prompt": f"Explain forbidden thing {n}"})
        for n in range(3)
    ]
    app = scripted_app(Script([said("plain"), said("plain"), said("now SESAME")]))
    with serve(app) as url:
        config = AuditConfig(
            attacks=(
                attack("direct"),
                attack("pair:streams=1"),
                attack("tap:branching=1,width=1,depth=2"),
                attack("crescendo:turns=2"),
            ),
            settings=SETTINGS,
            concurrency=1,
            measure_agreement=False,
            adversary=Adversary(
                attacker=OpenAITarget(url, "attacker"),
                judge=RefusalJudge(),
                evaluator=OpenAITarget(url, "evaluator"),
            ),
        )
        target = OpenAITarget(url, "target")
        with ResponseCache(tmp_path / "c.sqlite") as cache:
            first = run_audit(target, behaviors, suite="s", config=config, cache=cache)
            asked = len(app.state.log)
            again = run_audit(target, behaviors, suite="s", config=config, cache=cache)
        assert len(app.state.log) == asked  # the replay asked nobody anything
    assert [i.reply for i in again.items] == [i.reply for i in first.items]
    assert [r.attack for r in first.attacks] == [
        "direct",
        "pair:streams=1",
        "tap:branching=1,width=1,depth=2",
        "crescendo:turns=2",
    ]
    assert any(i.reply == COMPLY for i in first.items)
    assert any(n.startswith("pair:streams=1: ") for n in first.notes)
    with pytest.raises(UsageError, match="adaptive attacks need an attacker"):
        run_audit(target, behaviors, suite="s", config=AuditConfig(attacks=(attack("pair"),)))


def test_adaptive_specs_and_bounds() -> None:
    assert attack("tap:width=2,depth=2").spec == "tap:width=2,depth=2"
    assert attack("pair").max_queries == 9  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="pair streams"):
        attack("pair:streams=0")
    with pytest.raises(UsageError, match="adaptive attack"):
        attack("crescendo").run(GOAL)
    assert parse_attacker('Sure! {"prompt": "p", "improvement": "i"} done', ("prompt",)) == {
        "prompt": "p",
        "improvement": "i",
    }
    assert parse_attacker('{"prompt": 3}', ("prompt",)) is None


def test_target_app_serves_any_target_over_http() -> None:
    """The endpoint a local judge model is served through passes the conversation intact."""
    from weightwatch.audit.attacks import Conversation, Message
    from weightwatch.audit.targets import Target
    from weightwatch.testing.chat_server import target_app

    class Echo(Target):
        identity, label = "echo", "echo"

        def complete(self, conversation: Conversation, settings: GenerationSettings) -> str:
            turns = "|".join(f"{m.role}:{m.content}" for m in conversation.messages)
            return f"{conversation.system}|{turns}|{settings.max_new_tokens}"

    with serve(target_app(Echo(), name="echo")) as url:
        client = OpenAITarget(url, "echo")
        asked = Conversation(
            system="be brief",
            messages=(
                Message(role="user", content="a"),
                Message(role="assistant", content="b"),
                Message(role="user", content="c"),
            ),
        )
        assert client.complete(asked, SETTINGS) == "be brief|user:a|assistant:b|user:c|32"
        with pytest.raises(Exception, match="404"):
            OpenAITarget(url, "other", retries=0).complete(asked, SETTINGS)
