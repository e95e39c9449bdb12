"""A registry with a few models, served over real HTTP on 127.0.0.1 for each test."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from weightwatch.registry import Registry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hub(tmp_path, llama_family):  # type: ignore[no-untyped-def]
    import uvicorn

    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True)
    reg.register(llama_family.base, "org/base")
    reg.register(llama_family.int8, "org/gated", access="gated")
    reg.register(llama_family.independent, "org/down")
    reg.takedown("org/down@1", reason="test")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(tmp_path / "reg"), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield reg, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
