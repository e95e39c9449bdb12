"""A registry with a few models, served over real HTTP on 127.0.0.1 for each test."""

from __future__ import annotations

import pytest

from tests.services import STEADY_SIGNIN, serving
from weightwatch.registry import Registry


@pytest.fixture
def hub(tmp_path, llama_family):  # type: ignore[no-untyped-def]
    from weightwatch.server import create_app

    reg = Registry.open(tmp_path / "reg", init=True)
    reg.register(llama_family.base, "org/base")
    reg.register(llama_family.int8, "org/gated", access="gated")
    reg.register(llama_family.independent, "org/down")
    reg.takedown("org/down@1", reason="test")
    with serving(create_app(tmp_path / "reg", signin=STEADY_SIGNIN)) as url:
        yield reg, url
