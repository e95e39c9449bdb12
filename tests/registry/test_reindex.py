"""Fingerprints registered before migration 0009 reach the database and every host's index
through ``weightwatch registry reindex`` (idempotent).

The old registry is made the way an upgrade meets it: models registered, then the schema
taken back to 0008 with the migrations' own downgrade (which drops the fingerprint tables
the old code did not have, leaving the files it wrote), then opened again, which upgrades
it to the newest revision with the fingerprint tables empty.
"""

from __future__ import annotations

import json
import shutil

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select

from weightwatch.cli import main
from weightwatch.registry import Registry, fingerprints, schema
from weightwatch.registry.store import MIGRATIONS, fp_path

from .conftest import with_card


def _back_to_0008(db_url: str) -> None:
    engine = create_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    engine.dispose()


def test_reindex_backfills_fingerprints_from_before_0009(tmp_path, db_url, llama_family, capsys):
    root_a = tmp_path / "a"
    reg = Registry.open(root_a, db_url, init=True)
    reg.register(llama_family.base, "org/base")
    reg.register(llama_family.independent, "org/other")
    base, other = reg.resolve("org", "base"), reg.resolve("org", "other")
    reg.close()
    _back_to_0008(db_url)

    reg = Registry.open(root_a, db_url)  # upgraded again: no fingerprint rows
    assert fingerprints.fetch(reg.store, 0) == []
    shutil.copytree(root_a / "keys", tmp_path / "b" / "keys")  # one signing key
    host_b = Registry.open(tmp_path / "b", db_url)  # a second host's index is empty
    assert fingerprints.catch_up(host_b.store) == 0

    cmd = ["registry", "reindex", "--registry", str(root_a), "--db-url", db_url, "--json"]
    assert main(cmd) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(doc["stored"]) == sorted(doc["indexed"]) == sorted([base.id, other.id])
    assert doc["missing"] == []
    rows = fingerprints.fetch(reg.store, 0)
    assert [r[1] for r in rows] == [str(base.id), str(other.id)]  # registration order
    with reg.store.engine.connect() as conn:
        data = conn.execute(
            select(schema.fingerprints.c.data).where(schema.fingerprints.c.version_id == base.id)
        ).scalar_one()
    assert data == fp_path(reg.store, base.id).read_bytes()

    # idempotent: nothing more the second time
    again = reg.reindex()
    assert again.stored == [] and again.indexed == [] and again.present == 2

    # host B now matches a derivative of A's base, though it never saw its files
    assert fingerprints.catch_up(host_b.store) == 2
    tuned = host_b.register(
        with_card(llama_family.finetune, tmp_path / "ft", base_model=None, relation=None),
        "org/tuned",
    )
    detected = [p.model for p in tuned.parents if p.kind == "detected"]
    assert detected == ["org/base@1"], tuned.parents
    host_b.close()
    reg.close()


def test_reindex_names_a_missing_fingerprint_file(tmp_path, db_url, llama_family, capsys):
    root = tmp_path / "a"
    reg = Registry.open(root, db_url, init=True)
    reg.register(llama_family.base, "org/base")
    v = reg.resolve("org", "base")
    reg.close()
    _back_to_0008(db_url)
    reg = Registry.open(root, db_url)
    fp_path(reg.store, v.id).unlink()
    for f in (root / "index" / "fingerprints").glob("*.wwfp"):
        f.unlink()  # the index's copies too, where the old code kept them
    assert main(["registry", "reindex", "--registry", str(root), "--db-url", db_url]) == 1
    err = capsys.readouterr().err
    assert f"version {v.id}: fingerprint missing" in err
    assert str(fp_path(reg.store, v.id)) in err
    assert fingerprints.fetch(reg.store, 0) == []
    reg.close()
