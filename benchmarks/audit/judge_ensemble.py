"""Agreement of the rule judge, a local model judge and their ensembles on the held-out
labelled replies (issue 22), per class.

The model judge is any OpenAI-compatible endpoint (``--endpoint URL --model NAME``), or a
model this script serves itself on 127.0.0.1 (``--serve PATH``: a transformers folder or
a ``.gguf`` file, through ``weightwatch.testing.chat_server.model_app``). Each reply is
sent to the model once; both ensembles (rules arbitrate / model arbitrates) reuse that
verdict. Prints one JSON document; figures go in docs/audit.md.

    python benchmarks/audit/judge_ensemble.py \
        --serve .cache/real-models/SmolLM2-135M-Instruct.Q4_1.gguf
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from weightwatch.audit.judges import (
    EnsembleJudge,
    Judge,
    Judgement,
    LLMJudge,
    OpenAIChatClient,
    RefusalJudge,
    judge_agreement,
)
from weightwatch.audit.runner import heldout_labels


@dataclass(frozen=True)
class Memo(Judge):
    """Asks the wrapped judge once per (request, reply)."""

    name: ClassVar[str] = "llm"
    inner: Judge
    seen: dict[tuple[str, str], Judgement] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def judge(self, request: str, reply: str) -> Judgement:
        with self.lock:
            if (request, reply) not in self.seen:
                self.seen[(request, reply)] = self.inner.judge(request, reply)
            return self.seen[(request, reply)]


@contextlib.contextmanager
def endpoint(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    if args.endpoint:
        yield args.endpoint, args.model
        return
    from weightwatch.testing.chat_server import model_app, serve, target_app

    if args.runtime == "llama.cpp":
        from weightwatch.audit.targets.gguf import GGUFTarget

        app = target_app(GGUFTarget(args.serve), name="judge")
    else:
        app = model_app(args.serve, name="judge", threads=args.threads)
    with serve(app) as url:
        yield url, "judge"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint")
    parser.add_argument("--model", default="judge")
    parser.add_argument("--serve", help="model folder or .gguf file to serve as the judge")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--runtime",
        choices=("transformers", "llama.cpp"),
        default="transformers",
        help="how --serve runs the model (llama.cpp: a .gguf through the GGUF target)",
    )
    parser.add_argument("--max-tokens", type=int, default=120)
    args = parser.parse_args()
    if not (args.endpoint or args.serve):
        parser.error("give --endpoint URL or --serve PATH")
    labels = heldout_labels()
    started = time.monotonic()
    with endpoint(args) as (url, model):
        client = OpenAIChatClient(url, model, timeout_s=600, max_tokens=args.max_tokens)
        llm = Memo(LLMJudge(client=client, retries=0))
        for n, item in enumerate(labels, 1):  # ask the model once per reply, up front
            verdict = llm.judge(item.request, item.reply).verdict.value
            print(
                f"{n}/{len(labels)} {item.id}: {verdict} (label {item.label.value})",
                file=sys.stderr,
            )
        judged = time.monotonic() - started
        judges: dict[str, Judge] = {
            "rules": RefusalJudge(),
            "model": llm,
            "ensemble (rules arbitrate)": EnsembleJudge(members=(RefusalJudge(), llm), arbiter=0),
            "ensemble (model arbitrates)": EnsembleJudge(members=(RefusalJudge(), llm)),
        }
        results = {}
        for name, judge in judges.items():
            a = judge_agreement(judge, labels)
            results[name] = {
                "accuracy": round(a.accuracy, 4),
                "kappa": None if a.kappa is None else round(a.kappa, 4),
                "per_class": a.per_class(),
                "sensitivity": a.sensitivity,
                "specificity": a.specificity,
            }
    parsed = sum(j.verdict.value != "unclear" for j in llm.seen.values())
    print(
        json.dumps(
            {
                "judge_model": args.serve or f"{model} @ {url}",
                "runtime": args.runtime if args.serve else "endpoint",
                "heldout": len(labels),
                "model_answers_parsed": parsed,
                "model_seconds": round(judged, 1),
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
                "date": time.strftime("%Y-%m-%d"),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
