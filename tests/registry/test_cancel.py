"""Issue #17 findings 1 and 5: Ctrl-C cancels a registration instead of queueing it, jobs
can be listed and cancelled, and identical content is not registered twice."""

from __future__ import annotations

import json
import socket

import pytest

from weightwatch.cli import main
from weightwatch.errors import RegistryError
from weightwatch.registry import pipeline
from weightwatch.registry.store import work_dir

pytestmark = pytest.mark.slow


def _db(registry):  # type: ignore[no-untyped-def]
    return ["--db-url", registry.store.engine.url.render_as_string(hide_password=False)]


def test_ctrl_c_during_register_rolls_the_version_back(registry, llama_family, monkeypatch):  # type: ignore[no-untyped-def]
    real = pipeline.STEP_FUNCS["lineage"]

    def interrupted(store, version_id):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # what Ctrl-C (or SIGTERM, via the CLI) raises mid-step

    monkeypatch.setitem(pipeline.STEP_FUNCS, "lineage", interrupted)
    with pytest.raises(KeyboardInterrupt):
        registry.register(llama_family.base, "demo/x")
    # nothing pending, nothing for resume (or a starting server) to publish later
    assert pipeline.unfinished(registry.store) == []
    assert registry.jobs() == []
    assert not (registry.store.root / "work").exists() or not any(
        (registry.store.root / "work").iterdir()
    )
    with pytest.raises(RegistryError):
        registry.status("demo/x")
    monkeypatch.setitem(pipeline.STEP_FUNCS, "lineage", real)
    view = registry.register(llama_family.base, "demo/x")
    assert view.model == "demo/x@1"  # the cancelled number is free again


def test_cli_interrupt_prints_one_line_and_exits_130(registry, llama_family, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    def interrupted(store, version_id):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setitem(pipeline.STEP_FUNCS, "scan", interrupted)
    args = ["register", str(llama_family.base), "--name", "demo/y", "--registry"]
    rc = main([*args, str(registry.store.root), *_db(registry)])
    err = capsys.readouterr().err
    assert rc == 130
    assert err.strip() == "weightwatch: interrupted"
    assert pipeline.unfinished(registry.store) == []


def test_jobs_cancel_and_resume(registry, llama_family, capsys):  # type: ignore[no-untyped-def]
    where = ["--registry", str(registry.store.root), *_db(registry)]
    src = str(llama_family.base)
    assert main(["register", src, "--name", "demo/q", "--background", "--json", *where]) == 0
    job = json.loads(capsys.readouterr().out)["job"]
    assert main(["registry", "jobs", "--json", *where]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(j["job"], j["model"], j["state"]) for j in listed] == [(job, "demo/q@1", "queued")]
    assert main(["registry", "cancel", str(job), *where]) == 0
    assert "rolled back" in capsys.readouterr().out
    assert registry.jobs() == [] and pipeline.unfinished(registry.store) == []
    assert main(["registry", "cancel", str(job), *where]) == 2  # no such job any more
    # a queued one is resumed, and resume says what it is about to register
    assert main(["register", src, "--name", "demo/r", "--background", *where]) == 0
    capsys.readouterr()
    assert main(["registry", "resume", *where]) == 0
    out = capsys.readouterr().out
    assert "resuming job" in out and "demo/r@1" in out and "done" in out


def test_identical_reregistration_is_a_no_op(registry, llama_family, capsys):  # type: ignore[no-untyped-def]
    where = ["--registry", str(registry.store.root), *_db(registry)]
    src = str(llama_family.base)
    assert main(["register", src, "--name", "demo/same", "--json", *where]) == 0
    capsys.readouterr()
    assert main(["register", src, "--name", "demo/same", *where]) == 0
    out = capsys.readouterr().out
    assert "demo/same@1 already has these exact files" in out
    assert [v.number for v in registry.versions_of("demo", "same")] == [1]
    assert main(["register", src, "--name", "demo/same", "--new-version", "--json", *where]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "demo/same@2"


def test_a_dead_owners_job_is_cancelled_and_not_resumed(registry, llama_family):  # type: ignore[no-untyped-def]
    job = registry.submit(llama_family.base, "demo/dead")
    from sqlalchemy import update

    from weightwatch.registry import schema

    with registry.store.write.begin() as conn:  # what a killed process leaves behind
        conn.execute(
            update(schema.jobs)
            .where(schema.jobs.c.id == job)
            .values(state="running", owner=f"{socket.gethostname()}:999999999")
        )
    assert registry.cancel(job) == "rolled back"
    assert pipeline.unfinished(registry.store) == []
    assert not work_dir(registry.store, 1).exists()
