"""CNCF ModelPack (model-spec v1) manifests for a model version, and the referrer
manifest that attaches its signature bundle. Pure: descriptors in, JSON bytes out.

A model is one OCI image manifest with ``artifactType``
``application/vnd.cncf.model.manifest.v1+json``, a ModelPack config blob, and one
uncompressed layer per file (``….weight.v1.raw`` for weights, ``….weight.config.v1.raw``
for configs and tokenizers, ``….doc.v1.raw`` for cards and licences, ``….code.v1.raw``
for code), each annotated with ``org.cncf.model.filepath``. The registry's signed
bundle (DSSE, in-toto, OpenSSF model signing v1.0) is a second manifest whose
``subject`` is the model manifest: an OCI 1.1 referrer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from weightwatch.errors import UsageError

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
MODEL_ARTIFACT = "application/vnd.cncf.model.manifest.v1+json"
MODEL_CONFIG = "application/vnd.cncf.model.config.v1+json"
WEIGHT = "application/vnd.cncf.model.weight.v1.raw"
WEIGHT_CONFIG = "application/vnd.cncf.model.weight.config.v1.raw"
DOC = "application/vnd.cncf.model.doc.v1.raw"
CODE = "application/vnd.cncf.model.code.v1.raw"
FILEPATH = "org.cncf.model.filepath"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_DATA = b"{}"

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".ckpt", ".onnx", ".h5",
                    ".keras", ".npz", ".npy", ".msgpack", ".tflite", ".pkl", ".joblib")  # fmt: skip
_DOC_NAMES = ("readme", "license", "licence", "notice", "copying", "use_policy")


@dataclass(frozen=True)
class Blob:
    media_type: str
    digest: str  # sha256:hex
    size: int
    path: str | None = None  # the model file it carries

    def descriptor(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.path is not None:
            d["annotations"] = {FILEPATH: self.path}
        return d


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def media_type(path: str) -> str:
    """The ModelPack layer type of a model file, by its name."""
    p = PurePosixPath(path)
    name = p.name.lower()
    if name.endswith(_WEIGHT_SUFFIXES) or ".safetensors" in name or ".gguf" in name:
        return WEIGHT
    if name.startswith(_DOC_NAMES) or p.suffix.lower() in (".md", ".txt", ".pdf"):
        return DOC
    if p.suffix.lower() in (".py", ".sh"):
        return CODE
    return WEIGHT_CONFIG


def safe_path(path: str) -> str:
    """``path`` if it names a file inside the model folder; UsageError otherwise."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or "\\" in path or "\x00" in path:
        raise UsageError(f"unsafe file path in the artifact: {path!r}")
    return p.as_posix()


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def model_config(name: str, version: str, created: str, layers: list[Blob]) -> bytes:
    """The ModelPack config blob: what the model is and the digests of its layers."""
    weights = [b for b in layers if b.media_type == WEIGHT and b.path]
    formats = sorted({PurePosixPath(b.path).suffix.lstrip(".") for b in weights if b.path})
    return canonical(
        {
            "descriptor": {"name": name, "version": version, "createdAt": created},
            "config": {"format": ",".join(formats)} if formats else {},
            "modelfs": {"type": "layers", "diffIds": [b.digest for b in layers]},
        }
    )


def model_manifest(config: Blob, layers: list[Blob], annotations: dict[str, str]) -> bytes:
    return canonical(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "artifactType": MODEL_ARTIFACT,
            "config": config.descriptor(),
            "layers": [b.descriptor() for b in layers],
            "annotations": annotations,
        }
    )


def referrer_manifest(
    subject: Blob, bundle: Blob, *, artifact_type: str, annotations: dict[str, str]
) -> bytes:
    """A manifest attaching ``bundle`` to ``subject`` (OCI 1.1 ``subject`` field)."""
    empty = Blob(EMPTY, digest_of(EMPTY_DATA), len(EMPTY_DATA))
    return canonical(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "artifactType": artifact_type,
            "config": empty.descriptor(),
            "layers": [bundle.descriptor()],
            "subject": subject.descriptor(),
            "annotations": annotations,
        }
    )


def model_layers(manifest: dict[str, Any]) -> list[Blob]:
    """The file layers of a ModelPack manifest, paths checked; UsageError if it is not one."""
    if manifest.get("artifactType") != MODEL_ARTIFACT and (
        manifest.get("config", {}).get("mediaType") != MODEL_CONFIG
    ):
        raise UsageError("not a ModelPack model manifest (artifactType/config media type)")
    out = []
    seen: set[str] = set()
    for layer in manifest.get("layers", []):
        path = (layer.get("annotations") or {}).get(FILEPATH)
        if not isinstance(path, str):
            raise UsageError(f"layer {layer.get('digest')} has no {FILEPATH} annotation")
        path = safe_path(path)
        if path in seen:
            raise UsageError(f"two layers for one file: {path}")
        seen.add(path)
        out.append(_blob(layer, path))
    return out


def _blob(desc: dict[str, Any], path: str | None = None) -> Blob:
    digest, size = desc.get("digest"), desc.get("size")
    if not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71:
        raise UsageError(f"unsupported digest {digest!r} (sha256 only)")
    if not isinstance(size, int) or size < 0:
        raise UsageError(f"bad size for {digest}")
    return Blob(str(desc.get("mediaType")), digest, size, path)


def blob_of(desc: dict[str, Any]) -> Blob:
    return _blob(desc)


__all__ = [
    "BUNDLE",
    "EMPTY",
    "EMPTY_DATA",
    "INDEX",
    "MANIFEST",
    "MODEL_ARTIFACT",
    "MODEL_CONFIG",
    "Blob",
    "blob_of",
    "canonical",
    "digest_of",
    "media_type",
    "model_config",
    "model_layers",
    "model_manifest",
    "referrer_manifest",
    "safe_path",
]
