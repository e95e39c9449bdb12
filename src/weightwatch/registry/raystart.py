"""Starting or joining Ray, reliably: a busy host may take minutes to bring a raylet up.

``ray.init`` fails outright when its raylet or GCS does not answer within Ray's own
timeouts (seconds by default), which a loaded machine easily misses. ``connect`` gives Ray
generous start-up timeouts, retries a failed start a few times (shutting the half-started
instance down in between), and ends in a ``ServiceError`` that names the address and the
last cause instead of Ray's traceback.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from weightwatch.errors import ServiceError, UsageError

ATTEMPTS = 3
BACKOFF_S = 2.0
#: Ray's start-up timeouts (env), raised from their defaults unless already set
START_TIMEOUTS = {
    "RAY_raylet_start_wait_time_s": "180",
    "RAY_agent_register_timeout_ms": "180000",
    "RAY_gcs_rpc_server_connect_timeout_s": "60",
}


def ray_module() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise UsageError(
            "the Ray runner needs the [cluster] extra: pip install 'weightwatch[cluster]'"
        ) from exc
    return ray


def connect(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    attempts: int = ATTEMPTS,
    fresh: bool = False,
) -> str:
    """Join the Ray cluster at ``address`` (or ``RAY_ADDRESS``), or start a local instance
    with ``num_cpus`` when there is none; returns the cluster's GCS address.

    ``fresh``: shut down an instance this process already holds and start anew (a test
    that wants its own, without the auth token an earlier one required).
    """
    ray = ray_module()
    if ray.is_initialized():
        if not fresh:
            return str(ray.get_runtime_context().gcs_address)
        ray.shutdown()
    for k, v in START_TIMEOUTS.items():
        os.environ.setdefault(k, v)
    address = address or os.environ.get("RAY_ADDRESS") or None
    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
    last: BaseException | None = None
    for attempt in range(max(1, attempts)):
        try:
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=num_cpus or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                )
            return str(ray.get_runtime_context().gcs_address)
        except Exception as exc:  # Ray raises many kinds here (ConnectionError, RuntimeError…)
            last = exc
            with contextlib.suppress(Exception):  # nothing more to clean if that fails too
                ray.shutdown()  # what the failed start left half up
            if attempt + 1 < attempts:
                time.sleep(BACKOFF_S * (attempt + 1))
    raise ServiceError(
        f"could not start or join {where} after {attempts} attempts: "
        f"{type(last).__name__}: {str(last).strip().splitlines()[0] if str(last).strip() else ''}",
        hint="check that the machine has free memory and CPU and that the address is right; "
        "Ray's logs are under /tmp/ray/session_latest/logs",
    )
