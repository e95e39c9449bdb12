"""The registry's tables (SQLAlchemy Core). Alembic migrations create them; see migrations/.

A version row exists from the moment a registration starts, but is visible (``state =
'complete'``) only after every pipeline step has committed, so a crash never exposes a
half-registered version. Statuses follow tiered access: published, gated, restricted,
quarantined, taken_down.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("namespace", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("namespace", "name", name="uq_models_name"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(20), nullable=False),  # pending | complete | failed
    Column(
        "status", String(20), nullable=False
    ),  # published | gated | restricted | quarantined | taken_down
    Column("access", String(20), nullable=False),  # requested access tier
    Column("weights_digest", String(64)),
    Column("value_digest", String(64)),
    Column("manifest", Text),  # canonical JSON of the Manifest
    Column("source", Text, nullable=False),  # where it was registered from
    Column("error", Text),
    Column("created_at", String(40), nullable=False),
    Column("completed_at", String(40)),
    UniqueConstraint("model_id", "number", name="uq_versions_number"),
)

files = Table(
    "files",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),  # also the blob key
)

reports = Table(  # scan, facts, audit and lineage reports, as stable JSON
    "reports",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("body", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

edges = Table(  # lineage: declared (from the card) and detected (from the weights)
    "edges",
    metadata,
    Column("child_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("parent_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("kind", String(10), primary_key=True),  # declared | detected
    Column("relation", String(20), nullable=False),
    Column("score", Float),
    Column("p_value", Float),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("action", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reasons", Text, nullable=False),  # JSON list
    Column("cause", Text, nullable=False),  # registration | takedown of X | release by Y…
    Column("log_index", BigInteger),
    Column("created_at", String(40), nullable=False),
)

attestations = Table(
    "attestations",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("bundle", Text, nullable=False),  # Sigstore bundle JSON (DSSE over the manifest)
    Column("key_id", String(100), nullable=False),
    Column("log_index", BigInteger, nullable=False),
)

takedowns = Table(
    "takedowns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("action", String(20), nullable=False),  # takedown | reinstate
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("created_at", String(40), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("step", String(20), nullable=False),  # the next step to run
    Column("state", String(20), nullable=False),  # queued | running | done | failed
    Column("attempts", Integer, nullable=False),
    Column("owner", String(100)),  # runner that holds it
    Column("error", Text),
    Column("updated_at", String(40), nullable=False),
)

keys = Table(  # the registry's signing key ids over time (key changes are logged)
    "keys",
    metadata,
    Column("key_id", String(100), primary_key=True),
    Column("public_pem", LargeBinary, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("log_index", BigInteger),
)

watermarks = Table(  # WatermarkDeployment records: which key ids a version's deployments use
    "watermarks",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("record", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

tokens = Table(  # API tokens: only their SHA-256 is stored
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # admin | reviewer | publisher | auditor | user
    Column("org", String(100)),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)

grants = Table(  # access requests to gated / restricted models
    "grants",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("user", String(200), primary_key=True),
    Column("state", String(20), nullable=False),  # pending | accepted | rejected
    Column("reason", Text),  # why a request was rejected
    Column("updated_at", String(40), nullable=False),
    Column("answers", Text),  # JSON: the gate form as submitted
    Column("decided_by", String(200)),  # "auto" or the reviewer
    Column("requested_at", String(40)),
)

downloads = Table(  # append-only: who fetched what, when, from where, and the outcome
    "downloads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user", String(200)),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("path", String(1000), nullable=False),
    Column("token", String(16)),  # the API token's id (access.token_ref), if one was used
    Column("client", String(100)),
    Column("outcome", String(20), nullable=False),  # served | denied
    Column("created_at", String(40), nullable=False),
    Column("copy_key_id", String(64)),  # the recipient copy's key id, when one was served
)

users = Table(  # accounts for the web UI and API (scrypt password hashes)
    "users",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("email", String(320)),
    Column("country", String(2)),  # ISO 3166-1 alpha-2, as declared by the user
    Column("created_at", String(40), nullable=False),
    Column("disabled_at", String(40)),
)

orgs = Table(
    "orgs",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("created_at", String(40), nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("org", String(100), ForeignKey("orgs.name"), primary_key=True),
    Column("user", String(200), ForeignKey("users.name"), primary_key=True),
)

namespaces = Table(  # which organisation owns a model namespace
    "namespaces",
    metadata,
    Column("namespace", String(100), primary_key=True),
    Column("org", String(100), ForeignKey("orgs.name"), nullable=False),
)

sessions = Table(  # browser sessions: only the cookie's SHA-256 is stored
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user", String(200), ForeignKey("users.name"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

model_access = Table(  # per-model gate approval mode and the organisations of a restricted model
    "model_access",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("gate_mode", String(10), nullable=False),  # auto | manual
    Column("allowed_orgs", Text, nullable=False),  # JSON list
    Column("updated_at", String(40), nullable=False),
)

login_attempts = Table(  # the sign-in throttle's counters (registry/signin.py)
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user", String(200), nullable=False),
    Column("client", String(100), nullable=False),
    Column("outcome", String(10), nullable=False),  # pending, failed, ok, refused
    Column("created_at", String(40), nullable=False),
)

events = Table(  # append-only audit log of actions (logins, grants, takedowns, uploads…)
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("actor", String(200)),
    Column("action", String(40), nullable=False),
    Column("target", String(400)),
    Column("detail", Text),
    Column("client", String(100)),
    Column("created_at", String(40), nullable=False),
)

uploads = Table(  # uploads in progress or finished; staged under <root>/uploads/<id>
    "uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user", String(200), nullable=False),
    Column("model", String(300), nullable=False),
    Column("access", String(20), nullable=False),
    Column(
        "state", String(20), nullable=False
    ),  # receiving | registering | done | failed | aborted
    Column("received", BigInteger, nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id")),
    Column("error", Text),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("host", String(300)),  # the host staging it (store.host_id); None: before 0009
)

webhooks = Table(  # HTTP(S) endpoints an account or organisation registered for events
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_kind", String(10), nullable=False),  # user | org
    Column("owner", String(200), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", String(128), nullable=False),  # HMAC key: needed to sign, so stored
    Column("created_by", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("deleted_at", String(40)),
)

webhook_deliveries = Table(  # one event for one hook, and its retry state
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),  # the event id the receiver sees
    Column("hook_id", Integer, ForeignKey("webhooks.id"), nullable=False),
    Column("event", String(40), nullable=False),
    Column("body", Text, nullable=False),  # the exact JSON bytes signed and sent
    Column("state", String(20), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_at", Float, nullable=False),  # unix time of the next attempt
    Column("created_at", String(40), nullable=False),
)

webhook_attempts = Table(  # append-only: every try, its outcome
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", String(36), ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("created_at", String(40), nullable=False),
)

Index("ix_webhooks_owner", webhooks.c.owner_kind, webhooks.c.owner)
Index("ix_webhook_deliveries_due", webhook_deliveries.c.state, webhook_deliveries.c.next_at)
Index("ix_downloads_version", downloads.c.version_id)
Index("ix_files_sha256", files.c.sha256)  # the blob collector: does any file name a blob?
Index("ix_downloads_user", downloads.c.user)
Index("login_attempts_client", login_attempts.c.client, login_attempts.c.created_at)

blob_claims = Table(  # a blob a registration is about to use: the collector leaves it alone
    "blob_claims",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("state", String(10), nullable=False),  # live | deleting
    Column("touched_at", Float, nullable=False),  # unix time of the last claim
)

fingerprints = Table(  # a version's fingerprint, written by the pipeline on any host
    "fingerprints",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("vector", LargeBinary, nullable=False),  # float32 first-tier index vector
    Column("layers", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),  # the .wwfp file
    Column("created_at", String(40), nullable=False),
)

fingerprint_index = Table(  # what every host's index holds, in the order to catch up in
    "fingerprint_index",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
)
Index("ix_fingerprint_index_version", fingerprint_index.c.version_id, unique=True)

recipient_marks = Table(  # versions served as per-recipient marked copies (RecipientMarking)
    "recipient_marks",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("record", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)
recipient_copies = Table(  # one changed file of one recipient's copy (a content-addressed blob)
    "recipient_copies",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("user", String(200), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("original_sha256", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", String(40), nullable=False),
)
Index("ix_recipient_copies_key", recipient_copies.c.key_id)
