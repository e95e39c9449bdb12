"""Job runners: where pipeline jobs execute. Inline (the caller's thread), a thread pool,
or Ray (``[cluster]`` extra) so a hub can fan scans out over a cluster.

Every runner only calls ``pipeline.run_job`` with a job id; the job's state lives in the
database, so any worker that can open the registry (same data directory and database
URL) can run any job, and a restarted registry resumes what a dead worker left.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from weightwatch.errors import UsageError
from weightwatch.registry import raystart
from weightwatch.registry.pipeline import run_job
from weightwatch.registry.store import Store, open_store

RUNNERS = ("inline", "thread", "ray")


class Runner(Protocol):
    def run(self, job_ids: Sequence[int]) -> list[str]: ...


class InlineRunner:
    def __init__(self, store: Store) -> None:
        self.store = store

    def run(self, job_ids: Sequence[int]) -> list[str]:
        return [run_job(self.store, j) for j in job_ids]


class ThreadRunner:
    """Jobs in parallel threads of this process (hashing and scanning release the GIL)."""

    def __init__(self, store: Store, workers: int | None = None) -> None:
        self.store = store
        self.workers = workers or os.cpu_count() or 1

    def run(self, job_ids: Sequence[int]) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda j: run_job(self.store, j), job_ids))


def _ray_job(root: str, db_url: str, job_id: int, blobs: str | None = None) -> str:
    store = open_store(Path(root), db_url, blobs=blobs)
    try:
        return run_job(store, job_id)
    finally:
        store.engine.dispose()


class RayRunner:
    """Each job as a Ray task that opens the registry itself (no state crosses the wire)."""

    def __init__(
        self, store: Store, *, address: str | None = None, num_cpus: int | None = None
    ) -> None:
        ray = raystart.ray_module()
        self.ray: Any = ray
        self.store = store
        raystart.connect(address, num_cpus=num_cpus)
        self._task: Any = ray.remote(max_retries=0)(_ray_job)
        # A job reads its upload from this host's scratch directory, so it runs on a Ray
        # node of this host (each server host runs one, joined to the cluster).
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        self._on_this_host = NodeAffinitySchedulingStrategy(node_id=here, soft=False)

    def run(self, job_ids: Sequence[int]) -> list[str]:
        url = self.store.engine.url.render_as_string(hide_password=False)
        blobs = self.store.blobs.url
        task = self._task.options(scheduling_strategy=self._on_this_host)
        refs = [task.remote(str(self.store.root), url, j, blobs) for j in job_ids]
        return [str(r) for r in self.ray.get(refs)]


def make_runner(kind: str, store: Store) -> Runner:
    if kind == "inline":
        return InlineRunner(store)
    if kind == "thread":
        return ThreadRunner(store)
    if kind == "ray":
        return RayRunner(store)
    raise UsageError(f"unknown job runner {kind!r}; choose from {', '.join(RUNNERS)}")
