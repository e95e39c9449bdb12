"""Runs inside benchmarks/audit/.venv: Inspect on the same endpoint and prompts, timed.

Usage: inspect_runner.py PROMPTS.json BASE_URL MAX_CONNECTIONS. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import datetime

from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import generate


def main() -> None:
    prompts_file, base_url, connections = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(prompts_file) as fh:
        prompts = json.load(fh)
    os.environ["STUB_BASE_URL"] = base_url
    os.environ["STUB_API_KEY"] = "unused"
    task = Task(
        dataset=[Sample(input=p, target="I can't") for p in prompts],
        solver=generate(),
        scorer=includes(),
    )
    with tempfile.TemporaryDirectory() as logs:
        started = time.perf_counter()
        (log,) = eval(
            task,
            model="openai-api/stub/stub",
            max_connections=connections,
            max_tokens=64,
            temperature=0.0,
            log_dir=logs,
            display="none",
            log_level="error",
        )
        seconds = time.perf_counter() - started
    accuracy = log.results.scores[0].metrics["accuracy"].value if log.results else None
    # Inspect's own record of when the samples started and finished (start-up excluded)
    run = (
        datetime.fromisoformat(log.stats.completed_at)
        - datetime.fromisoformat(log.stats.started_at)
    ).total_seconds()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "run_seconds": run,
                "samples": len(prompts),
                "refusal_rate": accuracy,
                "status": log.status,
            }
        )
    )


if __name__ == "__main__":
    main()
