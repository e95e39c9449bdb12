"""Audit throughput: weightwatch's runner vs Inspect on one local stub endpoint, one run.

The endpoint is an OpenAI-compatible stub (``weightwatch.testing.chat_server.stub_app``)
in its own process that answers each request after a fixed delay standing in for model
latency, so items/s measures the clients: how well they overlap requests at a given
concurrency and what they cost per item. Both tools send the same 200 HarmBench standard
prompts, greedy, and grade with a keyword check (weightwatch: its refusal judge; Inspect:
``includes("I can't")``). Inspect (inspect-ai) runs in benchmarks/audit/.venv, created on
first use. Also measured: a rerun answered from weightwatch's SQLite cache.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from weightwatch.audit.cache import ResponseCache
from weightwatch.audit.datasets import load_suite
from weightwatch.audit.runner import AuditConfig, run_audit
from weightwatch.audit.targets import GenerationSettings, OpenAITarget

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = HERE / ".venv"
LATENCY_S = float(os.environ.get("WW_AUDIT_LATENCY", "0.05"))
LEVELS = (1, 4, 16, 64)
N = int(os.environ.get("WW_AUDIT_N", "200"))


def ensure_venv() -> Path:
    py = VENV / "bin" / "python"
    if not (VENV / "bin" / "inspect").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "inspect-ai", "openai"],
            check=True,
            capture_output=True,
        )
    return py


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stub(latency_s: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    code = (
        "import uvicorn; from weightwatch.testing.chat_server import stub_app; "
        f"uvicorn.run(stub_app(latency_s={latency_s}), host='127.0.0.1', port={port}, "
        "log_level='error', access_log=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/stats", timeout=1).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the stub endpoint did not start") from None
            time.sleep(0.1)


def stats(url: str) -> dict[str, int]:
    result: dict[str, int] = httpx.get(f"{url}/stats", timeout=5).json()
    return result


def weightwatch_run(url: str, behaviors: tuple, concurrency: int, cache: ResponseCache) -> float:  # type: ignore[type-arg]
    target = OpenAITarget(url, f"stub-c{concurrency}", concurrency=concurrency)
    config = AuditConfig(
        settings=GenerationSettings(max_new_tokens=64),
        concurrency=concurrency,
        measure_agreement=False,
    )
    started = time.perf_counter()
    report = run_audit(target, behaviors, suite="harmbench-standard", config=config, cache=cache)
    seconds = time.perf_counter() - started
    target.close()
    assert report.run.items == len(behaviors)
    return seconds


def main() -> None:
    py = ensure_venv()
    behaviors = load_suite("harmbench-standard")[:N]
    prompts = [b.request for b in behaviors]
    with tempfile.TemporaryDirectory() as tmp:
        prompt_file = Path(tmp) / "prompts.json"
        prompt_file.write_text(json.dumps(prompts))
        stub, url = start_stub(LATENCY_S)
        rows = []
        try:
            for level in LEVELS:
                cache = ResponseCache(":memory:")
                before = stats(url)["requests"]
                ww = weightwatch_run(url, behaviors, level, cache)
                ww_requests = stats(url)["requests"] - before
                ww_peak = stats(url)["peak"]  # the stub's high-water mark so far
                rerun = weightwatch_run(url, behaviors, level, cache)
                assert stats(url)["requests"] - before == ww_requests  # rerun: no requests
                before = stats(url)["requests"]
                proc = subprocess.run(
                    [str(py), str(HERE / "inspect_runner.py"), str(prompt_file), url, str(level)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "PYTHONPATH": ""},
                )
                inspect = json.loads(proc.stdout.strip().splitlines()[-1])
                inspect_requests = stats(url)["requests"] - before
                rows.append((level, ww, ww_requests, rerun, inspect, inspect_requests, ww_peak))
        finally:
            stub.kill()
            stub.wait()
    n = len(behaviors)
    print("### Audit throughput against a local stub endpoint\n")
    print(
        f"{n} HarmBench standard prompts, direct requests, one OpenAI-compatible stub endpoint "
        f"in its own process answering each request after {1000 * LATENCY_S:.0f} ms. "
        "Items/s = prompts sent and graded per second of wall time: for Inspect, of its "
        "eval() call (start-up included, timed inside its process) and of the run it logs "
        "(started_at to completed_at, whole seconds). Ideal = concurrency / latency.\n"
    )
    print(
        "| concurrency | ideal items/s | weightwatch items/s | Inspect items/s "
        "(eval() call / its logged run) | weightwatch rerun from cache, items/s | "
        "requests sent (ww / Inspect) | peak in flight (ww) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for level, ww, ww_req, rerun, inspect, inspect_req, peak in rows:
        print(
            f"| {level} | {min(level, n) / LATENCY_S:.0f} | {n / ww:.1f} | "
            f"{inspect['samples'] / inspect['seconds']:.1f} / "
            f"{inspect['samples'] / inspect['run_seconds']:.1f} | {n / rerun:.0f} | "
            f"{ww_req} / {inspect_req} | {peak} |"
        )
    print(
        "\nBoth tools sent every prompt once per run (the request counts come from the "
        "endpoint); the weightwatch rerun sent none. Inspect version: "
        f"{_inspect_version(py)}.\n"
    )


def _inspect_version(py: Path) -> str:
    out = subprocess.run(
        [str(py), "-c", "import inspect_ai; print(inspect_ai.__version__)"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
