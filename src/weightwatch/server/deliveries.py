"""The server's webhook delivery loop: a daemon thread that sends due deliveries from the
registry's outbox every ``interval`` seconds, so a takedown request never waits on a
slow receiver. Deliveries are not claimed: with several server hosts running the loop an
event may arrive twice, so receivers dedupe on its id (``X-Weightwatch-Delivery``)."""

from __future__ import annotations

import logging
import threading

from weightwatch.registry import Registry
from weightwatch.registry.webhooks import deliver_due

log = logging.getLogger(__name__)


class DeliveryLoop:
    def __init__(self, registry: Registry, *, interval: float = 1.0) -> None:
        self.registry = registry
        registry.deliver_inline = False  # this loop delivers, not the request
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-deliveries", daemon=True)

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deliver_due(self.registry.store, backoff=self.registry.webhook_backoff)
            except Exception:  # keep delivering after a database hiccup; logged
                log.exception("webhook delivery round failed")
            self._stop.wait(self.interval)
