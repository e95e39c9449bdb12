"""The request and response bodies of the JSON API (``server.api``), as they appear in
its OpenAPI document: requests forbid unknown fields; everything is frozen."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from weightwatch.registry.gates import Gate


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class LoginRequest(_Body):
    user: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class Me(_View):
    user: str
    role: str
    orgs: list[str]
    country: str | None = None


class LoginResult(Me):
    csrf: str = Field(description="send as X-CSRF-Token with cookie-authenticated writes")


class TokenResult(_View):
    user: str
    token: str = Field(description="shown once; only its SHA-256 is kept")


class Revoked(_View):
    revoked: int


class UserView(_View):
    name: str
    role: str
    email: str | None
    country: str | None
    orgs: list[str]
    disabled: bool


class NewUser(_Body):
    name: str = Field(max_length=100)
    password: str = Field(max_length=1000)
    role: str = Field("user", max_length=20)
    email: str | None = Field(None, max_length=320)
    country: str | None = Field(None, max_length=100)
    orgs: list[str] = []


class Member(_Body):
    user: str = Field(max_length=200)


class OrgView(_View):
    org: str
    members: list[str]


class Owner(_Body):
    org: str = Field(max_length=100)


class NamespaceView(_View):
    namespace: str
    org: str


class ModelSummary(_View):
    model: str  # namespace/name
    version: int
    status: str
    access: str
    completed_at: str | None


class VersionSummary(_View):
    version: int
    status: str
    access: str
    completed_at: str | None


class ModelDetail(_View):
    model: str
    owner_org: str | None
    gate_mode: str
    allowed_orgs: list[str] | None = Field(description="shown to those who manage the model")
    versions: list[VersionSummary]


class FileView(_View):
    path: str
    size: int
    sha256: str


class LogProof(_View):
    index: int
    size: int
    hashes: list[str]
    checkpoint: str | None = None


class DecisionProof(_View):
    index: int
    leaf: str
    hashes: list[str]
    checkpoint: str


class Attestation(_View):
    model: str
    key_id: str
    log_index: int
    bundle: dict[str, Any]
    attestation_proof: LogProof
    decision_proof: DecisionProof


class AccessSettings(_Body):
    gate_mode: str | None = Field(
        None, max_length=20, description="auto or manual approval of requests"
    )
    allowed_orgs: list[Annotated[str, Field(max_length=100)]] | None = Field(
        None, max_length=100, description="organisations of a restricted model"
    )


class AccessSettingsView(_View):
    model: str
    owner_org: str | None
    gate_mode: str
    allowed_orgs: list[str]


class GateView(_View):
    model: str
    gated: bool
    mode: str
    gate: Gate
    request_state: str | None = Field(description="the caller's own request, if any")


class AccessRequest(_Body):
    answers: dict[str, Any] = {}


class Decision(_Body):
    state: str = Field(max_length=20, description="accepted, rejected (with a reason) or pending")
    reason: str | None = Field(None, max_length=2000)


class GrantView(_View):
    model: str
    user: str
    state: str
    reason: str | None
    answers: dict[str, Any]
    decided_by: str | None
    requested_at: str | None
    updated_at: str


class Reason(_Body):
    reason: str = Field(max_length=2000)


class LogEntry(_View):
    index: int
    kind: str
    leaf: str = Field(description="the entry's exact bytes (UTF-8 JSON), as hashed")
    leaf_hash: str
    created_at: str


class Consistency(_View):
    first: int
    second: int
    first_root: str
    second_root: str
    hashes: list[str]
    checkpoint: str | None = None


class DownloadRow(_View):
    id: int
    user: str | None
    model: str
    path: str
    client: str | None
    outcome: str
    created_at: str


class EventRow(_View):
    id: int
    actor: str | None
    action: str
    target: str | None
    detail: dict[str, Any]
    client: str | None
    created_at: str


__all__ = [
    "AccessRequest",
    "AccessSettings",
    "AccessSettingsView",
    "Attestation",
    "Consistency",
    "Decision",
    "DecisionProof",
    "DownloadRow",
    "EventRow",
    "FileView",
    "GateView",
    "GrantView",
    "LogEntry",
    "LogProof",
    "LoginRequest",
    "LoginResult",
    "Me",
    "Member",
    "ModelDetail",
    "ModelSummary",
    "NamespaceView",
    "NewUser",
    "OrgView",
    "Owner",
    "Reason",
    "Revoked",
    "TokenResult",
    "UserView",
    "VersionSummary",
]


class WebhookRequest(_Body):
    url: str = Field(max_length=2000)
    org: str | None = Field(default=None, max_length=100)  # register for an organisation


class WebhookCreated(_View):
    id: int
    owner_kind: str
    owner: str
    url: str
    secret: str  # the HMAC key: shown once, never again
