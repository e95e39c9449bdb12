"""The OCI distribution API, through the ORAS Python client (``oras``): its session,
token authentication and blob uploads; manifests are sent and read here as exact bytes
so their digests are known, and referrers are found through the OCI 1.1 referrers API
or, on registries without it, the ``sha256-<hex>`` tag schema of the distribution spec.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weightwatch.errors import ServiceError, UsageError
from weightwatch.oci.layout import INDEX, MANIFEST, Blob, canonical, digest_of

MAX_MANIFEST = 4 << 20  # bytes; the distribution spec suggests registries cap at 4 MiB
CHUNKED_OVER = 256 << 20  # upload bigger blobs in chunks rather than in one request
TIMEOUT = (5.0, 20.0)  # seconds to connect, and between bytes read (ORAS retries 5x)
_REF = re.compile(
    r"^(?P<host>[A-Za-z0-9.\-]+(?::\d+)?)/(?P<repo>[a-z0-9]+(?:[._\-/][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._\-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class Reference:
    host: str
    repo: str
    tag: str | None
    digest: str | None

    @property
    def ref(self) -> str:
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        return (
            f"{self.host}/{self.repo}"
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def parse_reference(text: str) -> Reference:
    """``REGISTRY/REPO[:TAG][@sha256:…]``; UsageError when it is not one."""
    m = _REF.match(text)
    if not m:
        raise UsageError(f"{text!r} is not REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]")
    return Reference(m["host"], m["repo"], m["tag"], m["digest"])


def _local(host: str) -> bool:
    name = host.rsplit(":", 1)[0]
    return name in ("localhost", "::1") or name.startswith("127.")


class OciClient:
    """One registry host; plain HTTP for loopback addresses (or when asked)."""

    def __init__(self, host: str, *, plain_http: bool | None = None) -> None:
        import oras.provider

        plain = _local(host) if plain_http is None else plain_http
        self.host = host
        self.oras = oras.provider.Registry(hostname=host, insecure=plain)
        for scheme in ("http://", "https://"):  # ORAS sets no timeout: a stalled registry
            self.oras.session.mount(scheme, _timeout_adapter())  # would hang a pull
        self.base = f"{'http' if plain else 'https'}://{host}/v2"

    def _request(self, method: str, url: str, **kw: Any) -> Any:
        import requests

        try:
            return self.oras.do_request(url, method, **kw)
        except (requests.RequestException, ValueError) as exc:
            raise ServiceError(f"OCI registry {self.host}: {exc}") from exc

    def _container(self, repo: str) -> Any:
        import oras.container

        return oras.container.Container(f"{self.host}/{repo}", registry=self.host)

    # -- writing ------------------------------------------------------------------------
    def push_file(self, repo: str, path: Path, blob: Blob) -> None:
        layer = {"mediaType": blob.media_type, "digest": blob.digest, "size": blob.size}
        try:
            r = self.oras.upload_blob(
                str(path), self._container(repo), layer, do_chunked=blob.size > CHUNKED_OVER
            )
        except Exception as exc:  # oras raises bare exceptions from its session
            raise ServiceError(f"OCI registry {self.host}: upload of {blob.digest}: {exc}") from exc
        if r.status_code not in (200, 201, 202):
            raise ServiceError(
                f"OCI registry {self.host}: upload of {blob.digest}: {r.status_code}"
            )

    def push_bytes(self, repo: str, data: bytes, media_type: str) -> Blob:
        blob = Blob(media_type, digest_of(data), len(data))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "blob"
            path.write_bytes(data)
            self.push_file(repo, path, blob)
        return blob

    def put_manifest(self, repo: str, ref: str, data: bytes) -> Any:
        """PUT exact manifest bytes under a tag or their digest; returns the response."""
        r = self._request(
            "PUT", f"{self.base}/{repo}/manifests/{ref}", data=data,
            headers={"Content-Type": MANIFEST if b'"layers"' in data else INDEX},
        )  # fmt: skip
        if r.status_code not in (200, 201):
            raise ServiceError(
                f"OCI registry {self.host}: manifest {ref}: {r.status_code} {r.text}"
            )
        sent = r.headers.get("Docker-Content-Digest")
        if sent and sent != digest_of(data):
            raise ServiceError(f"OCI registry {self.host} stored manifest {ref} as {sent}")
        return r

    def attach(self, repo: str, subject: Blob, manifest: bytes, descriptor: dict[str, Any]) -> None:
        """Push a referrer manifest; on a registry without the referrers API, add it to
        the ``sha256-<hex>`` index tag as the distribution spec's fallback says."""
        r = self.put_manifest(repo, digest_of(manifest), manifest)
        if r.headers.get("OCI-Subject") == subject.digest:
            return  # the registry indexes referrers itself
        tag = subject.digest.replace(":", "-")
        index = self._fallback_index(repo, tag) or {
            "schemaVersion": 2, "mediaType": INDEX, "manifests": []
        }  # fmt: skip
        index["manifests"] = [
            m for m in index["manifests"] if m.get("digest") != descriptor["digest"]
        ]
        index["manifests"].append(descriptor)
        self.put_manifest(repo, tag, canonical(index))

    # -- reading ------------------------------------------------------------------------
    def get_manifest(self, repo: str, ref: str, *, accept: str = MANIFEST) -> tuple[bytes, str]:
        """A manifest's exact bytes (bounded) and their digest."""
        r = self._request(
            "GET", f"{self.base}/{repo}/manifests/{ref}", headers={"Accept": accept}, stream=True
        )
        if r.status_code == 404:
            raise UsageError(f"{self.host}/{repo}: no manifest {ref}")
        if r.status_code != 200:
            raise ServiceError(f"OCI registry {self.host}: manifest {ref}: {r.status_code}")
        data = _read_bounded(r, MAX_MANIFEST, what=f"manifest {ref}")
        return data, digest_of(data)

    def referrers(self, repo: str, digest: str) -> list[dict[str, Any]]:
        """Descriptors of the manifests whose ``subject`` is ``digest``."""
        r = self._request(
            "GET", f"{self.base}/{repo}/referrers/{digest}", headers={"Accept": INDEX}, stream=True
        )
        if r.status_code == 200 and INDEX in r.headers.get("Content-Type", ""):
            doc = json_object(_read_bounded(r, MAX_MANIFEST, what="referrers"), "referrers index")
        else:
            doc = self._fallback_index(repo, digest.replace(":", "-")) or {}
        found = doc.get("manifests", [])
        return [m for m in found if isinstance(m, dict)]

    def _fallback_index(self, repo: str, tag: str) -> dict[str, Any] | None:
        try:
            data, _ = self.get_manifest(repo, tag, accept=INDEX)
        except UsageError:
            return None
        return json_object(data, f"referrers tag {tag}")

    def fetch_blob(self, repo: str, blob: Blob, dest: Path) -> None:
        """Stream a blob to ``dest``, checking its size and SHA-256 as it comes."""
        r = self._request("GET", f"{self.base}/{repo}/blobs/{blob.digest}", stream=True)
        if r.status_code != 200:
            raise UsageError(f"{self.host}/{repo}: blob {blob.digest} missing ({r.status_code})")
        h = hashlib.sha256()
        n = 0
        with open(dest, "xb") as out:
            for chunk in r.iter_content(chunk_size=1 << 20):
                n += len(chunk)
                if n > blob.size:
                    raise UsageError(f"blob {blob.digest} is larger than its descriptor says")
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if n != blob.size or "sha256:" + h.hexdigest() != blob.digest:
            raise UsageError(f"blob {blob.digest} does not match its digest (tampered?)")

    def fetch_small(self, repo: str, blob: Blob, *, limit: int = MAX_MANIFEST) -> bytes:
        if blob.size > limit:
            raise UsageError(f"blob {blob.digest} is too large ({blob.size} bytes)")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "blob"
            self.fetch_blob(repo, blob, path)
            return path.read_bytes()


def _timeout_adapter() -> Any:
    from requests import PreparedRequest, Response
    from requests.adapters import HTTPAdapter

    class Adapter(HTTPAdapter):
        def send(
            self,
            request: PreparedRequest,
            stream: bool = False,
            timeout: float | tuple[float | None, float | None] | None = None,
            verify: bool | str = True,
            cert: str | tuple[str, str] | None = None,
            proxies: dict[str, str] | None = None,
        ) -> Response:
            return super().send(request, stream, timeout or TIMEOUT, verify, cert, proxies)

    return Adapter()


def _read_bounded(r: Any, limit: int, *, what: str) -> bytes:
    data = b""
    for chunk in r.iter_content(chunk_size=65536):
        data += chunk
        if len(data) > limit:
            raise UsageError(f"{what} is larger than {limit} bytes")
    return data


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object fetched from the registry (``what`` names it in the error)."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise UsageError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise UsageError(f"{what} is not a JSON object")
    return doc


__all__ = ["OciClient", "Reference", "parse_reference"]
