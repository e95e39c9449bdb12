"""A repository on a Hub-compatible endpoint, mirrored sparsely: only what a scan reads.

``mirror(RemoteRepo.parse("hf://ORG/NAME@REV"), dest)`` lists the repository's files
(``/api/models/{repo}/revision/{rev}?blobs=true``) and recreates each at its full size as
a *sparse* file holding only the bytes the scanner reads, fetched with HTTP range
requests: a safetensors header (and anything after the last tensor), a GGUF header and
tensor table (and anything after the last tensor), a zip's directory, local headers and
every member but torch's raw tensor storages. Files the scanner reads whole — pickles,
NumPy, JSON, text, anything unrecognised — are fetched whole, as are small files. The
unfetched holes read as zeros and are never read by the scanner, so scanning the mirror
gives the verdict a scan of the downloaded repository gives. Nothing is executed.

Authentication is a bearer token (``--token`` or ``HF_TOKEN``), as ``huggingface_hub``
sends it; the endpoint comes from ``--endpoint`` or ``HF_ENDPOINT``.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import httpx

from weightwatch.artifacts.gguf import parse_header
from weightwatch.artifacts.limits import MAX_INFLATE
from weightwatch.errors import ArtifactError, ScanError, UsageError

SMALL = 64 << 10  # files up to this size are fetched whole
PROBE = 4 << 10  # first bytes fetched to recognise a large file
READ_AHEAD = 16 << 10  # bytes fetched at once while walking a GGUF header
MAX_HEADER = 256 << 20  # a safetensors/GGUF header larger than this is fetched no further
MAX_FILE = 1 << 44  # 16 TiB: a listed size beyond this is a hostile or broken listing
STORAGE = re.compile(r"(^|/)data/\d+$")  # torch zip storages, never read by the scanner
_REF = re.compile(r"^hf://(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<rev>[\w./-]+))?\Z")


@dataclass(frozen=True)
class RemoteRepo:
    repo: str
    revision: str = "main"

    @classmethod
    def parse(cls, text: str) -> RemoteRepo:
        m = _REF.match(text)
        if not m:
            raise UsageError(f"{text!r} is not hf://ORG/NAME[@REVISION]")
        return cls(m.group("repo"), m.group("rev") or "main")

    def __str__(self) -> str:
        return f"hf://{self.repo}@{self.revision}"


@dataclass
class MirrorStats:
    """What a mirror cost: bytes fetched of the repository's total, and how."""

    files: int = 0
    bytes_total: int = 0
    bytes_fetched: int = 0
    requests: int = 0
    whole_files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        frac = self.bytes_fetched / self.bytes_total if self.bytes_total else 0.0
        return {
            "files": self.files,
            "bytes_total": self.bytes_total,
            "bytes_fetched": self.bytes_fetched,
            "fraction_fetched": round(frac, 6),
            "requests": self.requests,
            "whole_files": self.whole_files,
        }


class _Remote:
    def __init__(self, endpoint: str, ref: RemoteRepo, token: str | None, http: httpx.Client):
        self.base = endpoint.rstrip("/")
        self.ref = ref
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.stats = MirrorStats()

    def files(self) -> list[tuple[str, int]]:
        url = f"{self.base}/api/models/{self.ref.repo}/revision/{quote(self.ref.revision, '')}"
        r = self._send("GET", url, params={"blobs": "true"})
        try:
            doc = r.json()
            out = [(str(s["rfilename"]), int(s["size"])) for s in doc["siblings"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ScanError(f"{self.ref}: the endpoint's file list is malformed ({exc})") from exc
        self.stats.bytes_fetched += len(r.content)
        return out

    def _send(self, method: str, url: str, **kw: object) -> httpx.Response:
        self.stats.requests += 1
        try:
            r = self.http.request(method, url, headers=self.headers, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise ScanError(f"{self.ref}: {url}: {exc}") from exc
        if r.status_code in (401, 403, 404):
            why = r.headers.get("X-Error-Code") or r.text[:200]
            raise ScanError(f"{self.ref}: HTTP {r.status_code} for {url} ({why})")
        if r.status_code >= 400:
            raise ScanError(f"{self.ref}: HTTP {r.status_code} for {url}")
        return r

    def read(self, path: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of ``path``: one range request, read no further."""
        if end <= start:
            return b""
        url = f"{self.base}/{self.ref.repo}/resolve/{quote(self.ref.revision, '')}/{quote(path)}"
        self.stats.requests += 1
        headers = {**self.headers, "Range": f"bytes={start}-{end - 1}"}
        out = bytearray()
        try:
            with self.http.stream("GET", url, headers=headers) as r:
                if r.status_code >= 400:
                    raise ScanError(f"{self.ref}: HTTP {r.status_code} for {path}")
                skip = start if r.status_code == 200 else 0  # the server ignored the range
                if r.status_code == 206:
                    got = r.headers.get("content-range", "")
                    if not got.startswith(f"bytes {start}-"):
                        raise ScanError(f"{self.ref}: {path}: asked {start}-, got {got!r}")
                for chunk in r.iter_bytes():
                    self.stats.bytes_fetched += len(chunk)
                    if skip:
                        cut = min(skip, len(chunk))
                        chunk, skip = chunk[cut:], skip - cut
                    out += chunk
                    if len(out) >= end - start:
                        break
        except httpx.HTTPError as exc:
            raise ScanError(f"{self.ref}: {path}: {exc}") from exc
        if len(out) < end - start:
            raise ScanError(f"{self.ref}: {path}: {len(out)} bytes where {end - start} were due")
        return bytes(out[: end - start])


def _safe_path(dest: Path, name: str) -> Path:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\\" in name or "\0" in name:
        raise ScanError(f"the repository lists an unsafe file name {name!r}")
    return dest.joinpath(*p.parts)


class _Sparse:
    """A file of the remote size whose fetched ranges hold the remote bytes."""

    def __init__(self, remote: _Remote, name: str, size: int, path: Path) -> None:
        self.remote, self.name, self.size = remote, name, size
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "w+b")  # noqa: SIM115 (closed by mirror)
        self.f.truncate(size)
        self.have: list[tuple[int, int]] = []

    def holds(self, start: int, end: int) -> bool:
        return any(a <= start and end <= b for a, b in self.have)

    def get(self, start: int, end: int) -> bytes:
        start, end = max(0, start), min(end, self.size)
        todo = [(start, end)]
        for a, b in self.have:
            todo = [
                r for lo, hi in todo for r in ((lo, min(hi, a)), (max(lo, b), hi)) if r[0] < r[1]
            ]
        for lo, hi in todo:
            self.f.seek(lo)
            self.f.write(self.remote.read(self.name, lo, hi))
            self.have.append((lo, hi))
        self.f.seek(start)
        return self.f.read(end - start)


def _safetensors(s: _Sparse, head: bytes) -> None:
    (n,) = struct.unpack("<Q", head[:8])
    if n > MAX_HEADER or 8 + n > s.size:
        return  # malformed: the scanner reports it from what the header says
    header = s.get(0, 8 + n)[8:]
    try:
        doc = json.loads(header)
        spans = [
            (8 + n + int(v["data_offsets"][0]), 8 + n + int(v["data_offsets"][1]))
            for k, v in doc.items()
            if k != "__metadata__"
        ]
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return
    _uncovered(s, spans, 8 + n)


def _uncovered(s: _Sparse, spans: list[tuple[int, int]], start: int) -> None:
    """Every byte from ``start`` that no tensor covers (gaps between tensors and the tail
    after the last), as far as the scanner reads: it judges even a few bytes of GGUF
    padding, which must be zeros, and a hole would read as zeros."""
    pos = start
    for begin, end in [*sorted(spans), (s.size, s.size)]:
        if pos < begin and 0 <= pos < s.size:
            s.get(pos, min(begin, pos + MAX_INFLATE))
        pos = max(pos, end)


class _Fetching:
    """A remote file as the GGUF header walker reads it: each slice fetched on demand, with
    read-ahead (a header is thousands of small fields)."""

    def __init__(self, s: _Sparse) -> None:
        self.s = s

    def __getitem__(self, span: slice, /) -> bytes:
        start, stop = int(span.start or 0), int(span.stop)
        if not self.s.holds(start, stop):
            self.s.get(start, min(self.s.size, start + max(stop - start, READ_AHEAD)))
        return self.s.get(start, stop)


def _gguf(s: _Sparse) -> None:
    """Walk the GGUF header and tensor table with the local parser, fetching as it goes,
    then fetch the alignment padding and every byte no tensor covers."""
    try:
        contents = parse_header(_Fetching(s), s.size, s.name)
    except ArtifactError:
        return  # the scanner finds the file malformed from the bytes fetched (holes read 0)
    s.get(contents.header_end, contents.data_start)
    spans = [(offset, offset + info.nbytes) for info, offset, _ in contents.tensors]
    _uncovered(s, spans, contents.data_start)


def _zip(s: _Sparse) -> None:
    back = min(s.size, 65536 + 22)
    tail = s.get(s.size - back, s.size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0:
        return
    cd_size, cd_offset = struct.unpack("<II", tail[at + 12 : at + 20])
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:  # zip64: the locator names the record
        loc = tail.rfind(b"PK\x06\x07", 0, at)
        if loc < 0:
            return
        (rec,) = struct.unpack("<Q", tail[loc + 8 : loc + 16])
        z64 = s.get(rec, rec + 56)
        cd_size, cd_offset = struct.unpack("<QQ", z64[40:56])
    s.get(cd_offset, cd_offset + cd_size)
    try:
        infos = zipfile.ZipFile(s.f).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return
    for info in infos:
        head = s.get(info.header_offset, info.header_offset + 30)
        if len(head) < 30 or head[:4] != b"PK\x03\x04":
            continue
        n, m = struct.unpack("<HH", head[26:30])
        start = info.header_offset + 30 + n + m
        s.get(info.header_offset + 30, start)
        if not STORAGE.search(info.filename):
            s.get(start, start + info.compress_size)


def mirror(
    ref: RemoteRepo,
    dest: Path,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    http: httpx.Client | None = None,
) -> MirrorStats:
    """Mirror ``ref`` sparsely into ``dest`` (created); returns what it cost."""
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    token = token or os.environ.get("HF_TOKEN")
    client = http or httpx.Client(timeout=60.0, follow_redirects=True)
    remote = _Remote(endpoint, ref, token, client)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        for name, size in remote.files():
            if not 0 <= size <= MAX_FILE:
                raise ScanError(f"{ref}: {name}: the listing gives an impossible size {size}")
            s = _Sparse(remote, name, size, _safe_path(dest, name))
            try:
                remote.stats.files += 1
                remote.stats.bytes_total += size
                if size <= SMALL:
                    s.get(0, size)
                    remote.stats.whole_files.append(name)
                    continue
                head = s.get(0, PROBE)
                if head[:4] == b"GGUF":
                    _gguf(s)
                elif head[:4] == b"PK\x03\x04":
                    _zip(s)
                elif head[8:9] == b"{":
                    _safetensors(s, head)
                else:  # pickles, NumPy, text, unknown: the scanner reads them whole
                    s.get(0, size)
                    remote.stats.whole_files.append(name)
            finally:
                s.f.close()
    finally:
        if http is None:
            client.close()
    return remote.stats
