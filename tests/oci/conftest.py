"""A real OCI registry for the tests: Debian's ``docker-registry`` (CNCF distribution)
on 127.0.0.1, storage in a temp folder; and a weightwatch registry with two versions
to push. ``make services`` installs the registry and ``skopeo`` (the second client)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.services import free_port, unavailable
from weightwatch.registry import Registry


@dataclass(frozen=True)
class OciRegistry:
    host: str  # 127.0.0.1:PORT
    storage: Path  # the distribution registry's filesystem storage root

    def blob_file(self, digest: str) -> Path:
        hexd = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"


@pytest.fixture(scope="package")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    binary = shutil.which("docker-registry")
    if binary is None:
        unavailable("docker-registry not installed (apt-get install docker-registry)")
        raise AssertionError  # unreachable
    root = tmp_path_factory.mktemp("oci")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (root / "log").open("wb")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        else:
            pytest.fail("docker-registry did not start")
        if proc.poll() is not None:
            pytest.fail(f"docker-registry exited: {(root / 'log').read_text()[-2000:]}")
        yield OciRegistry(f"127.0.0.1:{port}", root / "data")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="package")
def source(
    tmp_path_factory: pytest.TempPathFactory, llama_family
) -> Iterator[tuple[Registry, Path]]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("oci-src") / "registry"
    reg = Registry.open(root, init=True)
    reg.register(llama_family.base, "org/base")
    reg.register(llama_family.finetune, "org/ft")
    yield reg, root
    reg.close()
