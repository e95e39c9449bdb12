"""Recipient-traceable copies: one GaussMark key per recipient, one marked file per copy.

A *recipient marking* (``RecipientMarking``, public) says that a version is served to each
recipient as a copy carrying the recipient's own GaussMark key, derived from a master
secret and the grant (``weightdetect.recipient_key`` over ``"{deployment}/{user}"``: the
one derivation, through ``MasterSecret.derive``). Only the files holding marked matrices
differ between copies: ``mark_file`` rewrites one safetensors file exactly as
``weightio.embed_folder`` would (a test pins the bytes), every other file is served as the
original blob. A copy is deterministic in (original bytes, key, scheme), so it can be
rebuilt at any time and has a stable content address.

``DerivationRecord`` is what the registry signs for a copy: the original file's digest,
the copy's digest and the key's public id — never the key. ``derivation_statement``
wraps records in an in-toto statement whose subjects are the copy's files, so the
recipient can check (offline, with the registry's public key) that the bytes it holds
are the registry's derivation of the attested original.

``trace_keys`` gives the keys to test when tracing: one per recorded recipient; the exact
max-over-m correction lives in ``weightdetect``. Recipient copies may use a larger
``sigma`` than a deployment-wide mark: naming one of ``m`` recipients at a small false
accusation rate needs a larger statistic than detecting one key (docs/watermark.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from weightwatch.errors import ArtifactError, UsageError, VerificationError
from weightwatch.reports import Record, Report
from weightwatch.watermark.gaussmark import GaussMark
from weightwatch.watermark.keys import MasterSecret, WatermarkKey
from weightwatch.watermark.weightdetect import recipient_key
from weightwatch.watermark.weightreport import WeightWatermarkDetection
from weightwatch.watermark.weightscheme import MarkedTensor, get_weight_scheme

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "weightwatch/recipient-copy/v1"
#: recipient copies are traced among many keys: a larger default scale than one deployment
RECIPIENT_SIGMA = 0.8
#: a trace names someone only below this adjusted p-value: an accusation needs a smaller
#: false-positive rate than a detection (2,000 innocent texts at 1e-3 would name 2 people)
TRACE_ALPHA = 1e-5


class RecipientMarking(Report):
    """That a version is served as per-recipient marked copies (public; no secret)."""

    schema_version: Literal["1"] = "1"
    deployment: str
    scheme: Literal["gaussmark"] = "gaussmark"
    params: dict[str, Any]
    master_key_id: str  # the public id of the master secret the keys derive from
    files: dict[str, tuple[str, ...]] = Field(
        description="path -> the marked tensors it holds (every other file is the original)"
    )
    required_by: tuple[str, ...] = Field(
        (),
        description="policy rules that required a weight watermark (then every caller "
        "but the owners and staff, the anonymous public included, gets a marked copy)",
    )

    def build_scheme(self) -> GaussMark:
        built = get_weight_scheme(self.scheme, **self.params)
        assert isinstance(built, GaussMark)
        return built

    def key(self, master: MasterSecret, user: str) -> WatermarkKey:
        """The key of ``user``'s copy; refuses a master secret that did not create this."""
        if master.key_id != self.master_key_id:
            raise VerificationError(
                f"recipient marking {self.deployment!r} was made with master secret "
                f"{self.master_key_id}, not {master.key_id}"
            )
        return recipient_key(master, grant_of(self.deployment, user), scheme=self.scheme)


def recipient_lines(doc: str | None) -> list[str]:
    """How a version's view lists its recipient marking (beside sampling deployments)."""
    if doc is None:
        return []
    m = RecipientMarking.model_validate_json(doc)
    why = f", required by {', '.join(m.required_by)}" if m.required_by else ""
    return [
        f"{m.deployment} ({m.scheme} weights, sigma {m.params.get('sigma')}, per-recipient "
        f"copies{why}): master key id {m.master_key_id}"
    ]


def grant_of(deployment: str, user: str) -> str:
    """The grant id a recipient key derives from: the deployment and the recipient."""
    if not deployment or not user:
        raise UsageError("a recipient copy needs a deployment and a recipient")
    return f"{deployment}/{user}"


def marking_for(
    master: MasterSecret,
    deployment: str,
    headers: Mapping[str, Mapping[str, tuple[int, ...]]],
    *,
    sigma: float = RECIPIENT_SIGMA,
    required_by: Sequence[str] = (),
) -> RecipientMarking:
    """A marking over a version whose safetensors files have these tensor shapes
    (path -> name -> shape, read from the headers only)."""
    scheme = get_weight_scheme("gaussmark", sigma=sigma)
    assert isinstance(scheme, GaussMark)
    shapes = {n: s for per in headers.values() for n, s in per.items()}
    chosen = set(scheme.select(shapes))  # UsageError: nothing to mark
    files = {p: tuple(sorted(chosen & set(per))) for p, per in headers.items()}
    return RecipientMarking(
        deployment=deployment,
        params={k: v for k, v in scheme.describe().items() if k != "name"},
        master_key_id=master.key_id,
        files={p: names for p, names in sorted(files.items()) if names},
        required_by=tuple(required_by),
    )


def mark_file(
    src: Path, dst: Path, *, scheme: GaussMark, key: WatermarkKey, names: Sequence[str]
) -> tuple[MarkedTensor, ...]:
    """Write ``src`` (one safetensors file) to ``dst`` with ``names`` marked, byte for
    byte as ``embed_folder`` writes it (same noise, same rounding, same header)."""
    from weightwatch.watermark.weightfolder import rms as _rms
    from weightwatch.watermark.weightfolder import torch_module as _torch

    torch = _torch()
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    scheme.check_key(key)
    try:
        with safe_open(str(src), framework="pt") as fh:
            metadata = fh.metadata()
        tensors = load_file(str(src))
    except Exception as exc:  # safetensors raises its own error types
        raise ArtifactError(src, f"cannot read safetensors: {exc}") from exc
    missing = sorted(set(names) - tensors.keys())
    if missing:
        raise ArtifactError(src, f"lacks tensors to mark: {missing[:3]}")
    marked = []
    for name in sorted(names):
        w = tensors[name].to(torch.float32)
        noise, std = scheme.perturbation(key, name, tuple(w.shape), _rms(w))
        tensors[name] = (w + torch.from_numpy(noise)).to(tensors[name].dtype).contiguous()
        marked.append(MarkedTensor(name=name, shape=tuple(w.shape), std=std))
    save_file(tensors, str(dst), metadata=metadata)
    return tuple(marked)


class DerivationRecord(Record):
    """One file of a recipient's copy: which original it derives from, under which key."""

    path: str
    original_sha256: str
    copy_sha256: str
    size: int
    key_id: str


class CopyDerivation(Report):
    """A recipient copy of one version: the records of its changed files (the predicate)."""

    schema_version: Literal["1"] = "1"
    version: str  # namespace/name@number
    commit: str
    deployment: str
    scheme: str
    params: dict[str, Any]
    recipient: str
    files: tuple[DerivationRecord, ...]


class RecipientTrace(Report):
    """Whose copy a text (or a derivative's weights) came from, among a version's
    recipients: ``recipient`` is named only when the adjusted p-value is at most alpha."""

    schema_version: Literal["1"] = "1"
    version: str
    recipients_tested: int
    recipient: str | None
    detection: WeightWatermarkDetection


def derivation_statement(copy: CopyDerivation) -> dict[str, Any]:
    """The in-toto statement the registry signs: subjects are the copy's changed files."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f.path, "digest": {"sha256": f.copy_sha256}} for f in copy.files],
        "predicateType": PREDICATE_TYPE,
        "predicate": copy.to_json(),
    }


def read_statement(stmt: Mapping[str, Any]) -> CopyDerivation:
    """The derivation a (verified) statement carries; its subjects must match it."""
    if stmt.get("predicateType") != PREDICATE_TYPE:
        raise VerificationError(f"not a recipient-copy statement ({PREDICATE_TYPE})")
    copy = CopyDerivation.model_validate(stmt.get("predicate"))
    subjects = {
        (s.get("name"), (s.get("digest") or {}).get("sha256")) for s in stmt.get("subject", [])
    }
    if subjects != {(f.path, f.copy_sha256) for f in copy.files}:
        raise VerificationError("statement subjects differ from its derivation records")
    return copy


__all__ = [
    "PREDICATE_TYPE",
    "RECIPIENT_SIGMA",
    "TRACE_ALPHA",
    "CopyDerivation",
    "DerivationRecord",
    "RecipientMarking",
    "RecipientTrace",
    "derivation_statement",
    "grant_of",
    "mark_file",
    "marking_for",
    "read_statement",
    "recipient_lines",
]
