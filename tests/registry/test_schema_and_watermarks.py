"""The migrated schema matches the code's tables; watermark deployments recorded per version."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from weightwatch.cli import main
from weightwatch.errors import RegistryError
from weightwatch.registry.schema import metadata
from weightwatch.watermark.deployments import WatermarkDeployment
from weightwatch.watermark.keys import MasterSecret


def test_migrations_create_exactly_the_declared_schema(registry):
    with registry.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # the transparency log's tables belong to weightwatch.attest.logstore's own metadata
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("log_"))]
    assert diff == []


@pytest.mark.slow
def test_watermark_deployments_are_recorded_by_key_id(registry, llama_family, tmp_path, capsys):
    registry.register(llama_family.base, "org/base")
    master = MasterSecret.generate()
    dep = WatermarkDeployment.create(master, "chat-prod", scheme="kgw", gamma=0.25, delta=2.0)
    registry.add_watermark("org/base", dep)
    assert registry.watermarks("org/base") == [dep]
    assert registry.version_for_key(dep.key_id) == "org/base@1"
    assert registry.status("org/base").watermarks == [f"chat-prod (kgw): key id {dep.key_id}"]
    with pytest.raises(RegistryError, match="already recorded"):
        registry.add_watermark("org/base", dep)
    with pytest.raises(RegistryError, match="no registered version uses"):
        registry.version_for_key("0" * 16)
    # the same through the CLI
    secret = tmp_path / "master.json"
    master.save(secret)
    url = str(registry.store.engine.url.render_as_string(hide_password=False))
    args = ["--registry", str(registry.store.root), "--db-url", url]
    assert (
        main(
            [
                "registry",
                "watermark",
                "org/base",
                "--key",
                str(secret),
                "--deployment",
                "beta",
                "--scheme",
                "gumbel",
                *args,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "org/base@1: deployment 'beta' (gumbel) key id" in out
    assert len(registry.watermarks("org/base")) == 2
