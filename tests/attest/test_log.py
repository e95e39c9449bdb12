"""The transparency log store: proofs, checkpoints, offline verification, concurrency, crashes."""

from __future__ import annotations

import base64
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weightwatch.attest import generate, save_keypair
from weightwatch.attest.checkpoint import entry_leaf, verify_checkpoint, verify_entry_offline
from weightwatch.attest.keys import KeyVerifier
from weightwatch.attest.logstore import LogStore, verify_log
from weightwatch.cli import main
from weightwatch.errors import VerificationError
from weightwatch.merkle import MerkleTree, leaf_hash, verify_consistency

GOLDEN = Path(__file__).parent / "golden"


def _store(tmp_path: Path, name: str = "log.db") -> LogStore:
    return LogStore.open(f"sqlite:///{tmp_path / name}")


def test_leaf_serialization_is_fixed():
    leaf = entry_leaf(
        "registration",
        {"model": "org/name", "version": 1, "weights_digest": "ab" * 32, "note": "café"},
        time="2026-11-22T00:00:00+00:00",
    )
    assert leaf == (GOLDEN / "leaf-registration-v1.json").read_bytes().strip()


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5))
def test_store_matches_reference_tree(tmp_path_factory, sizes):
    store = _store(tmp_path_factory.mktemp("log"))
    leaves: list[bytes] = []
    for batch in sizes:  # mixed batch sizes exercise node completion across transactions
        new = [f"entry {len(leaves) + i}".encode() for i in range(batch)]
        if batch % 2:
            for leaf in new:
                store.append(leaf, kind="test")
        else:
            store.append_many([("test", leaf) for leaf in new])
        leaves += new
    ref = MerkleTree([leaf_hash(x) for x in leaves])
    n = len(leaves)
    assert store.size() == n and store.root() == ref.root()
    for i in {0, n // 2, n - 1}:
        assert store.inclusion_proof(i) == ref.inclusion_proof(i)
    for old in {1, n // 2 or 1, n}:
        proof = store.consistency_proof(old)
        assert proof == ref.consistency_proof(old)
        verify_consistency(old, n, store.root(old), store.root(), proof)
    assert verify_log(store) == n


def test_checkpoint_and_offline_verification(tmp_path):
    store = _store(tmp_path)
    leaves = [entry_leaf("decision", {"i": i}, time="t") for i in range(37)]
    store.append_many([("decision", x) for x in leaves])
    key = generate("ed25519")
    verifier = KeyVerifier(key.public_key, key.key_id)
    note = store.checkpoint(key, origin="weightwatch.example/log")
    cp = verify_checkpoint(note, verifier)
    assert cp.size == 37 and cp.root == store.root()
    proof = store.inclusion_proof(20)
    assert verify_entry_offline(leaves[20], 20, proof, note, verifier).size == 37
    with pytest.raises(VerificationError):
        verify_entry_offline(leaves[21], 20, proof, note, verifier)  # another entry
    with pytest.raises(VerificationError):
        verify_entry_offline(leaves[20], 20, proof, note.replace("\n37\n", "\n38\n"), verifier)
    other = generate("ed25519")
    with pytest.raises(VerificationError):
        verify_checkpoint(note, KeyVerifier(other.public_key, other.key_id))
    body, _, sig_line = note.partition("\n\n")
    name, blob = sig_line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1  # a flipped bit in the signature itself
    with pytest.raises(VerificationError):
        verify_checkpoint(f"{body}\n\n{name} {base64.b64encode(bytes(raw)).decode()}\n", verifier)
    assert verify_log(store) == 37


def test_cli_log_verify(tmp_path, capsys):
    store = _store(tmp_path)
    leaves = [entry_leaf("registration", {"i": i}, time="t") for i in range(9)]
    store.append_many([("registration", x) for x in leaves])
    key = generate("ed25519")
    pub = save_keypair(key, tmp_path / "log.pem")
    (tmp_path / "cp.txt").write_text(store.checkpoint(key, origin="ww/log"))
    (tmp_path / "entry.json").write_bytes(leaves[4])
    proof = {"index": 4, "hashes": [h.hex() for h in store.inclusion_proof(4)]}
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    args = [
        "log",
        "verify",
        "--entry",
        str(tmp_path / "entry.json"),
        "--proof",
        str(tmp_path / "proof.json"),
        "--checkpoint",
        str(tmp_path / "cp.txt"),
        "--pub",
        str(pub),
    ]
    assert main(args) == 0
    assert "entry 4" in capsys.readouterr().out
    (tmp_path / "entry.json").write_bytes(leaves[5])
    assert main(args) == 1  # a proof that does not verify is a verdict (exit 1)


def _writer(url: str, worker: int, count: int) -> None:
    store = LogStore.open(url)
    for i in range(count):
        store.append(f"w{worker}-{i}".encode(), kind="test")


def test_concurrent_writer_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    LogStore.open(url)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, w, 100)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    store = LogStore.open(url)
    assert verify_log(store) == 400
    leaves = sorted(e.leaf for e in store.entries())
    assert leaves == sorted(f"w{w}-{i}".encode() for w in range(4) for i in range(100))


CRASH_WRITER = """
import sys
from weightwatch.attest.logstore import LogStore
store = LogStore.open(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    store.append_many([("test", f"c{i}-{j}".encode()) for j in range(1 + i % 7)])
    i += 1
"""


def test_writer_killed_mid_append_leaves_consistent_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    LogStore.open(url)
    for delay in (0.3, 0.7, 1.1):
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASH_WRITER, url], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        store = LogStore.open(url)
        size = verify_log(store)
        assert size > 0
        store.append(b"after crash", kind="test")  # appending continues densely
        assert verify_log(store) == size + 1


@pytest.mark.integration
def test_log_on_postgresql(postgres_url):
    """The same store on a real PostgreSQL server: proofs, concurrent writers, verification."""
    store = LogStore.open(postgres_url)
    leaves = [f"pg {i}".encode() for i in range(50)]
    store.append_many([("test", x) for x in leaves[:20]])
    for x in leaves[20:]:
        store.append(x, kind="test")
    ref = MerkleTree([leaf_hash(x) for x in leaves])
    assert store.root() == ref.root()
    assert store.inclusion_proof(33) == ref.inclusion_proof(33)
    assert store.consistency_proof(7) == ref.consistency_proof(7)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(postgres_url, w, 50)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    assert verify_log(LogStore.open(postgres_url)) == 200


def test_one_checkpoint_per_size_and_flushed_to_the_main_file(tmp_path):
    store = _store(tmp_path)
    store.append_many([("decision", entry_leaf("decision", {"i": i}, time="t")) for i in range(5)])
    first = store.checkpoint(generate("ed25519"), origin="o")
    again = store.checkpoint(generate("ed25519"), origin="o")  # another key, same size
    assert again == first and len(store.checkpoints()) == 1
    store.append(entry_leaf("decision", {"i": 5}, time="t"), kind="decision")
    assert store.checkpoint(generate("ed25519"), origin="o") != first
    # Everything signed was written through to the database file itself, not only to
    # the write-ahead log: a copy of the main file alone already holds both heads.
    copy = tmp_path / "copy.db"
    copy.write_bytes((tmp_path / "log.db").read_bytes())
    assert [size for size, _, _ in LogStore.open(f"sqlite:///{copy}").checkpoints()] == [5, 6]


def test_reads_do_not_wait_for_a_writer(tmp_path):
    import threading

    from weightwatch.attest.logstore import writer

    store = _store(tmp_path)
    store.append(b"x", kind="decision")
    result: list[int] = []
    with writer(store.engine).begin() as held:  # a long write transaction holds the lock
        held.exec_driver_sql("UPDATE log_head SET size = size WHERE id = 1")
        reader = threading.Thread(target=lambda: result.append(store.size()), daemon=True)
        reader.start()
        reader.join(10)
        assert result == [1], "a plain read queued behind the open write transaction"


def test_append_joins_the_callers_transaction(tmp_path):
    from weightwatch.attest.logstore import writer

    store = _store(tmp_path)
    store.append(b"first", kind="decision")
    with pytest.raises(RuntimeError), writer(store.engine).begin() as conn:
        assert store.append_many([("decision", b"second")], conn=conn) == [1]
        raise RuntimeError("the registration failed after its log entry was written")
    assert store.size() == 1 and verify_log(store) == 1
    with writer(store.engine).begin() as conn:
        store.append_many([("decision", b"second")], conn=conn)
    assert store.size() == 2 and verify_log(store) == 2


def test_cosignatures_of_two_keys_under_one_witness_name_are_both_kept(tmp_path):
    """Key rotation: a witness name with two keys whose IDs differ only in their last bits
    (they shared a 30-bit prefix that a line's key used to be cut to) keeps both lines;
    the same key's newer cosignature replaces its older one."""
    store = _store(tmp_path)
    store.append(entry_leaf("registration", {"n": 1}, time="t"), kind="registration")
    key = generate("ed25519")
    note = store.checkpoint(key, origin="weightwatch.example/log")

    def line(key_id: bytes, fill: int) -> str:
        blob = base64.b64encode(key_id + bytes([fill]) * 72).decode()
        return f"\u2014 witness.example {blob}"

    a, b = bytes.fromhex("01020304"), bytes.fromhex("01020307")
    store.add_cosignatures(1, [line(a, 1), line(b, 2)])
    updated = store.add_cosignatures(1, [line(a, 3)])
    lines = updated.split("\n\n", 1)[1].splitlines()
    assert lines[0] == note.split("\n\n", 1)[1].splitlines()[0]  # the log's own signature
    assert lines[1:] == [line(a, 3), line(b, 2)]
    verify_checkpoint(updated, KeyVerifier(key.public_key, key.key_id))
