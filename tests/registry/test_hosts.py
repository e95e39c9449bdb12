"""Several hosts on one database: what one host does at start must not touch another's
work, and fingerprints registered through one host reach every host's index."""

from __future__ import annotations

import shutil

from weightwatch.registry import Registry, fingerprints, upload_records


def _two_hosts(tmp_path, db_url):  # type: ignore[no-untyped-def]
    a = Registry.open(tmp_path / "a", db_url, init=True)
    shutil.copytree(tmp_path / "a" / "keys", tmp_path / "b" / "keys")
    return a, Registry.open(tmp_path / "b", db_url)


def test_a_starting_host_leaves_another_hosts_uploads_alone(tmp_path, db_url):
    """Before 0009 a server aborted every upload still receiving when it started, so a
    second host starting (or restarting) killed the first host's live uploads."""
    a, b = _two_hosts(tmp_path, db_url)
    try:
        upload_records.create(a.store, "a" * 32, user="alice", model="acme/x", access="public")
        upload_records.create(b.store, "b" * 32, user="bob", model="acme/y", access="public")
        dead, _ = upload_records.abort_unfinished(b.store, "the server restarted")
        assert dead == ["b" * 32]
        assert upload_records.get(a.store, "a" * 32).state == "receiving"
        dead, _ = upload_records.abort_unfinished(a.store, "the server restarted")
        assert dead == ["a" * 32]
    finally:
        a.close()
        b.close()


def test_a_version_registered_on_one_host_is_in_the_others_index(tmp_path, db_url, llama_family):
    a, b = _two_hosts(tmp_path, db_url)
    try:
        a.register(llama_family.base, "acme/base")
        vid = a.resolve("acme", "base", "main").id
        assert len(b.store.index) == 0  # b has not looked yet
        assert fingerprints.catch_up(b.store) == 1
        assert b.store.index.has_name(str(vid))
        assert fingerprints.catch_up(b.store) == 0  # incremental: nothing new
        # b never computed it: the fingerprint comes from the database
        assert not (tmp_path / "b" / "fingerprints" / f"{vid}.wwfp").exists()
        fp = fingerprints.load(b.store, vid)
        assert fp is not None
        [top] = b.store.index.search(fp, top=1)
        assert top.name == str(vid) and top.comparison.relation == "identical"
        # a derivative registered through b is linked to the base registered through a
        b.register(llama_family.finetune, "acme/tuned")
        parents = [e for e in b.status("acme/tuned").parents if e.kind == "detected"]
        assert [e.model for e in parents] == ["acme/base@1"]
    finally:
        a.close()
        b.close()
