"""Starting Ray on a busy machine: a failed start is retried, and giving up is a clear
ServiceError (no Ray traceback). The failures are injected in front of the real
``ray.init``; the retry joins the run's real local Ray instance."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from weightwatch.errors import ServiceError
from weightwatch.registry import raystart

pytestmark = pytest.mark.slow


def test_a_failed_start_is_retried_then_joins_the_real_instance(ray_address):
    # in a process of its own (this one already holds the run's instance): the first
    # ray.init fails as a slow raylet makes it, the retry joins the running cluster
    code = f"""
import ray
from weightwatch.registry import raystart
real, calls = ray.init, []
def flaky(*args, **kwargs):
    calls.append(kwargs)
    if len(calls) == 1:
        raise TimeoutError("Timed out while waiting for the raylet to start")
    return real(*args, **kwargs)
ray.init, raystart.BACKOFF_S = flaky, 0.0
address = raystart.connect({ray_address!r})
assert raystart.connect() == address  # already joined: nothing started again
print(address, len(calls))
ray.shutdown()
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [ray_address, "2"]


def test_giving_up_names_the_cluster_and_the_cause(monkeypatch):
    ray = pytest.importorskip("ray")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("Could not find any running Ray instance\nmore detail")

    monkeypatch.setattr(raystart, "BACKOFF_S", 0.0)
    monkeypatch.setattr(ray, "init", broken)
    shut: list[int] = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh process
    monkeypatch.setattr(ray, "shutdown", lambda: shut.append(1))  # keeps the run's instance
    with pytest.raises(ServiceError) as err:
        raystart.connect("10.9.9.9:6379", attempts=2)
    msg = err.value.message
    assert "the Ray cluster at 10.9.9.9:6379 after 2 attempts" in msg
    assert msg.endswith("ConnectionError: Could not find any running Ray instance")
    assert shut == [1, 1]  # each failed start's leftovers were shut down
