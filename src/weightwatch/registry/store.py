"""Opening a registry: its data directory, database (migrated), signing key and index.

The data directory comes from ``--registry``, else ``WEIGHTWATCH_REGISTRY``, else the
user's data directory; the database from ``--db-url``, else ``WEIGHTWATCH_DB_URL``, else
SQLite in WAL mode inside the data directory; the blob store from ``blobs``, else
``WEIGHTWATCH_BLOBS_URL`` (``s3://BUCKET/PREFIX`` for several hosts), else ``blobs/`` in the
data directory. With several hosts the data directory is each host's scratch space: the
database and the blob store hold everything that must survive it (docs/deployment.md).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, select, text

from weightwatch.attest import generate
from weightwatch.attest.keys import KeySigner, load_signer, save_keypair
from weightwatch.attest.logstore import LogStore
from weightwatch.db import make_engine, writer
from weightwatch.errors import RegistryError, UsageError
from weightwatch.lineage.index import FingerprintIndex
from weightwatch.registry import schema
from weightwatch.registry.blob_backends import open_blobs
from weightwatch.registry.blobs import BlobStore, LocalBlobs

MIGRATIONS = Path(__file__).parent / "migrations"
KEY_FILE = "registry-ed25519.pem"
NAME = re.compile(r"^([a-z0-9][a-z0-9._-]{0,99})/([A-Za-z0-9][A-Za-z0-9._-]{0,199})\Z")
REF = re.compile(r"^(?P<name>[^@\s]+)(?:@(?P<number>[0-9]+))?\Z")
LOG_ORIGIN = "weightwatch-registry"
ORIGIN_FILE = "log-origin"


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def default_root() -> Path:
    env = os.environ.get("WEIGHTWATCH_REGISTRY")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "weightwatch"


def parse_name(name: str) -> tuple[str, str]:
    m = NAME.match(name)
    if not m:
        raise UsageError(
            f"model name {name!r} must be NAMESPACE/NAME (lower-case namespace; letters, "
            "digits, '.', '_' and '-')"
        )
    return m.group(1), m.group(2)


def parse_ref(ref: str) -> tuple[str, str, int | None]:
    m = REF.match(ref)
    if not m:
        raise UsageError(f"{ref!r} is not NAMESPACE/NAME[@VERSION]")
    ns, name = parse_name(m.group("name"))
    return ns, name, int(m.group("number")) if m.group("number") else None


def host_id(store: Store) -> str:
    """This host's name among several sharing a database: machine and scratch folder."""
    import socket

    return f"{socket.gethostname()}:{store.root.resolve()}"[:300]


def work_dir(store: Store, version_id: int) -> Path:
    """Where the pipeline keeps a version's files while it registers them."""
    return store.root / "work" / str(version_id)


def fp_path(store: Store, version_id: int) -> Path:
    """A registered version's fingerprint (the index is a cache of these)."""
    return store.root / "fingerprints" / f"{version_id}.wwfp"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (serialised between processes)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with writer(engine).begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(74657)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass
class Store:
    """Everything a registry keeps, opened."""

    root: Path
    engine: Engine
    log: LogStore
    blobs: BlobStore
    index: FingerprintIndex
    signer: KeySigner

    @property
    def write(self) -> Engine:
        return writer(self.engine)

    @property
    def origin(self) -> str:
        """The log's origin line: ``ORIGIN_FILE`` in the data directory, else the default.
        Registries that witness each other need distinct origins (``registry init
        --origin``); tlog-tiles suggests the log's URL prefix without its scheme."""
        path = self.root / ORIGIN_FILE
        return path.read_text().strip() if path.is_file() else LOG_ORIGIN


def private(path: Path, *, mode: int = 0o700) -> None:
    """Take group and other permissions off ``path`` (the registry's folder: the database
    holds password hashes and session CSRF tokens, the blob store restricted and withdrawn
    weights); only the account running the registry may read them."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(mode)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise RegistryError(f"{path}: cannot make it private to this account ({exc})") from exc


BLOBS_ENV = "WEIGHTWATCH_BLOBS_URL"


def open_store(
    root: Path | None = None,
    db_url: str | None = None,
    *,
    init: bool = False,
    blobs: str | None = None,
) -> Store:
    """Open (``init``: create) the registry at ``root``."""
    root = Path(root) if root else default_root()
    url = db_url or os.environ.get("WEIGHTWATCH_DB_URL") or f"sqlite:///{root / 'registry.db'}"
    key_path = root / "keys" / KEY_FILE
    if not init and not key_path.is_file():
        raise UsageError(f"{root}: no registry here; create one with `weightwatch registry init`")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    private(root)
    engine = make_engine(url)
    try:
        migrate(engine)
    except Exception as exc:  # a database that cannot be reached or migrated
        raise RegistryError(
            f"{url.split('@')[-1]}: cannot open the registry database ({exc})"
        ) from exc
    if engine.dialect.name == "sqlite" and engine.url.database:
        for suffix in ("", "-wal", "-shm"):
            private(Path(engine.url.database + suffix), mode=0o600)
    log = LogStore(engine)
    if not key_path.is_file():
        key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        save_keypair(generate("ed25519"), key_path)
    signer = load_signer(key_path)
    store = Store(
        root,
        engine,
        log,
        open_blobs(blobs or os.environ.get(BLOBS_ENV), root),
        FingerprintIndex(root / "index", create=True),
        signer,
    )
    _record_key(store)
    if isinstance(store.blobs, LocalBlobs):  # others' uploads are aborted by `registry gc`
        store.blobs.gc_incoming()
    return store


def _record_key(store: Store) -> None:
    """Key changes are logged: the first time a key signs for this registry, say so."""
    from weightwatch.attest.checkpoint import entry_leaf
    from weightwatch.attest.keys import public_pem

    with store.write.begin() as conn:
        known = conn.execute(
            select(schema.keys.c.key_id).where(schema.keys.c.key_id == store.signer.key_id)
        ).first()
        if known is not None:
            return
        pem = public_pem(store.signer.public_key)
        leaf = entry_leaf(
            "key_change", {"key_id": store.signer.key_id, "public_key": pem.decode()}, time=now()
        )
        (idx,) = store.log.append_many([("key_change", leaf)], conn=conn)
        conn.execute(
            schema.keys.insert().values(
                key_id=store.signer.key_id, public_pem=pem, created_at=now(), log_index=idx
            )
        )
