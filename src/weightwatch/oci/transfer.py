"""Push a registered version to an OCI registry as a ModelPack artifact with its signed
bundle attached as a referrer; pull one back, verifying before anything is written.

Pull order: manifest (its digest), referrers (a signature bundle must be attached),
the bundle's signature against the trusted key, the signed per-file digests against
the manifest's layers, then every blob streamed into a staging folder beside the
destination with its digest checked, the staged folder re-hashed as the bundle says
(files and weights digest), and only then the staging folder renamed into place. Any
failure removes the staging folder: the destination is never partly written.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weightwatch.attest.bundle import PREDICATE_TYPE, open_bundle, verify_model
from weightwatch.attest.keys import KeyVerifier
from weightwatch.errors import UsageError, VerificationError
from weightwatch.oci import layout
from weightwatch.oci.client import OciClient, json_object, parse_reference

if TYPE_CHECKING:
    from weightwatch.registry import Registry


@dataclass(frozen=True)
class Pushed:
    reference: str
    digest: str  # the model manifest's
    signature: str  # the referrer manifest's
    files: int
    bytes: int


@dataclass(frozen=True)
class Pulled:
    reference: str
    digest: str
    out: str
    files: int
    bytes: int
    key_id: str
    weights_digest: str | None


def push(registry: Registry, ref: str, target: str, *, plain_http: bool | None = None) -> Pushed:
    """Push version ``ref`` of ``registry`` to ``target`` (``REGISTRY/REPO:TAG``)."""
    dest = parse_reference(target)
    if dest.digest:
        raise UsageError("push to a tag, not a digest")
    view = registry.status(ref)
    ns_name, _, number = view.model.rpartition("@")
    ns, _, name = ns_name.partition("/")
    row = registry.resolve(ns, name, number)  # status() found it: a complete version
    attestation = registry.attestation(row.id)
    if attestation is None:
        raise UsageError(f"{view.model} is not a complete, signed version")
    client = OciClient(dest.host, plain_http=plain_http)
    layers = []
    for f in registry.files(row.id):
        blob = layout.Blob(
            layout.media_type(f.path), "sha256:" + f.sha256, f.size, layout.safe_path(f.path)
        )
        with _blob_file(registry, f.sha256) as path:
            client.push_file(dest.repo, path, blob)
        layers.append(blob)
    created = row.completed_at or ""
    config = client.push_bytes(
        dest.repo, layout.model_config(ns_name, number, created, layers), layout.MODEL_CONFIG
    )
    annotations = {
        "org.opencontainers.image.title": view.model,
        "org.opencontainers.image.version": number,
        "org.opencontainers.image.created": created,
        "org.cncf.model.weights_digest": f"sha256:{view.weights_digest}",
    }
    manifest = layout.model_manifest(config, layers, annotations)
    client.put_manifest(dest.repo, dest.ref, manifest)
    subject = layout.Blob(layout.MANIFEST, layout.digest_of(manifest), len(manifest))
    bundle = client.push_bytes(dest.repo, attestation.bundle.encode(), layout.BUNDLE)
    client.push_bytes(dest.repo, layout.EMPTY_DATA, layout.EMPTY)  # the referrer's config
    sig_annotations = {
        "dev.sigstore.bundle.predicateType": PREDICATE_TYPE,
        "org.opencontainers.image.created": created,
    }
    referrer = layout.referrer_manifest(
        subject, bundle, artifact_type=layout.BUNDLE, annotations=sig_annotations
    )
    descriptor = {
        **layout.Blob(layout.MANIFEST, layout.digest_of(referrer), len(referrer)).descriptor(),
        "artifactType": layout.BUNDLE,
        "annotations": sig_annotations,
    }
    client.attach(dest.repo, subject, referrer, descriptor)
    return Pushed(
        reference=str(dest),
        digest=subject.digest,
        signature=descriptor["digest"],
        files=len(layers),
        bytes=sum(b.size for b in layers),
    )


def pull(
    source: str, out: Path, verifier: KeyVerifier, *, plain_http: bool | None = None
) -> Pulled:
    """Pull ``source`` into folder ``out`` (new or empty) after verifying everything."""
    src = parse_reference(source)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: exists and is not an empty folder; refusing to write into it")
    client = OciClient(src.host, plain_http=plain_http)
    raw, digest = client.get_manifest(src.repo, src.ref)
    if src.digest and digest != src.digest:
        raise UsageError(f"{src}: the registry served a manifest with digest {digest}")
    manifest = json_object(raw, f"{src} manifest")
    layers = layout.model_layers(manifest)
    config = layout.blob_of(manifest.get("config") or {})
    bundle, stmt = _signature(client, src.repo, digest, verifier, str(src))
    signed = {r["name"]: "sha256:" + r["digest"] for r in stmt["predicate"].get("resources", [])}
    have = {b.path: b.digest for b in layers if b.path}
    if signed != have:
        diff = sorted(set(signed.items()) ^ set(have.items()))
        raise UsageError(f"{src}: layers differ from the signed files: {diff[:3]}")
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.pull-", dir=out.parent.resolve()))
    try:
        config_doc = json_object(client.fetch_small(src.repo, config), "ModelPack config")
        diff_ids = (config_doc.get("modelfs") or {}).get("diffIds")
        if diff_ids is not None and diff_ids != [b.digest for b in layers]:
            raise UsageError(f"{src}: config diffIds do not match the layers")
        for b in layers:
            assert b.path is not None
            dest = staging / b.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            client.fetch_blob(src.repo, b, dest)
        result = verify_model(staging, bundle, verifier)
        if not result.ok:
            raise UsageError(
                f"{src}: pulled files differ from the signed ones "
                f"(changed {result.changed}, missing {result.missing}, added {result.added}, "
                f"weights digest ok: {result.weights_ok})"
            )
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Pulled(
        reference=str(src),
        digest=digest,
        out=str(out),
        files=len(layers),
        bytes=sum(b.size for b in layers),
        key_id=verifier.key_id,
        weights_digest=result.weights_digest,
    )


def _signature(
    client: OciClient, repo: str, digest: str, verifier: KeyVerifier, where: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first attached bundle whose signature verifies, and its statement."""
    found = [r for r in client.referrers(repo, digest) if r.get("artifactType") == layout.BUNDLE]
    if not found:
        raise UsageError(f"{where}: no signature bundle is attached (OCI referrer missing)")
    problems = []
    for desc in found:
        try:
            ref = layout.blob_of(desc)
            raw, got = client.get_manifest(repo, ref.digest)
            if got != ref.digest:
                raise UsageError(f"referrer {ref.digest} was served with digest {got}")
            manifest = json_object(raw, "referrer manifest")
            if (manifest.get("subject") or {}).get("digest") != digest:
                raise UsageError(f"referrer {ref.digest} is about another manifest")
            layer = next(
                (x for x in manifest.get("layers", []) if x.get("mediaType") == layout.BUNDLE),
                None,
            )
            if layer is None:
                raise UsageError(f"referrer {ref.digest} carries no bundle")
            bundle = json_object(
                client.fetch_small(repo, layout.blob_of(layer)), "signature bundle"
            )
            return bundle, open_bundle(bundle, verifier)
        except (UsageError, VerificationError) as exc:
            problems.append(str(exc))
    raise UsageError(f"{where}: no attached bundle verifies with key {verifier.key_id[:16]}…: "
                     + "; ".join(problems))  # fmt: skip


@contextmanager
def _blob_file(registry: Registry, digest: str) -> Iterator[Path]:
    """The blob as a local file, because the ORAS client uploads from a path: the store's own
    file for a local store, else one blob at a time spooled from the object store (the copy
    is removed as soon as it has been sent)."""
    blobs = registry.store.blobs
    local = blobs.local_path(digest)
    if local is not None:
        yield local
        return
    with tempfile.TemporaryDirectory(prefix="ww-oci-") as tmp:
        path = Path(tmp) / digest
        with path.open("wb") as out:
            for chunk in blobs.chunks(digest):
                out.write(chunk)
        yield path


__all__ = ["Pulled", "Pushed", "pull", "push"]
