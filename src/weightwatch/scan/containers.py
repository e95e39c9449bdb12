"""Find every pickle a loader could reach: in files, zip and tar members, compressed
streams and NumPy object arrays — by content, never by name, with bounded inflation."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from weightwatch.artifacts.detect import detect_bytes
from weightwatch.artifacts.limits import MAX_DEPTH, MAX_INFLATE, MAX_RATIO
from weightwatch.artifacts.model import FileFormat
from weightwatch.scan import rules
from weightwatch.scan.findings import Finding, Location
from weightwatch.scan.keras_onnx import (
    analyze_keras_config,
    h5_has_lambda,
    is_keras_config,
    torch_modules,
)
from weightwatch.scan.pickles import analyze
from weightwatch.scan.skops_schema import analyze_schema
from weightwatch.scan.zipcheck import STORAGE, raw_member, zip_differentials

# torch's legacy loader reads five pickles (magic number, protocol, system info, the data,
# the storage keys) before the raw storages: a break inside them is not raw data.
LEGACY_STREAMS = 5
_ZLIB_LEVELS = (b"\x01", b"\x5e", b"\x9c", b"\xda")
_NPY_OBJECT = re.compile(rb"'descr':\s*'\|O'")


@dataclass
class Blob:
    """Bytes to examine (in memory, or a file read only as far as needed) and their origin."""

    data: bytes | None
    location: Location
    path: Path | None = None

    def read(self) -> bytes:
        if self.data is None:
            assert self.path is not None
            self.data = self.path.read_bytes()
        return self.data

    def open(self) -> BinaryIO:
        return (
            open(self.path, "rb")
            if self.data is None and self.path is not None
            else io.BytesIO(self.read())
        )

    def head(self, n: int = 65536) -> bytes:
        with self.open() as f:
            return f.read(n)

    @property
    def size(self) -> int:
        return (
            len(self.data)
            if self.data is not None
            else (self.path.stat().st_size if self.path else 0)
        )

    def source(self) -> bytes | Path:
        return self.path if self.data is None and self.path is not None else self.read()


def member_loc(loc: Location, name: str) -> Location:
    member = f"{loc.member}/{name}" if loc.member else name
    return Location(file=loc.file, member=member)


def examine(blob: Blob, fmt: FileFormat | None = None, depth: int = 0) -> Iterator[Finding]:
    """Findings for one blob, recursing into containers."""
    if fmt is None:
        data = blob.read()
        fmt, _ = detect_bytes(
            data[:65536], size=len(data), last=data[-1:], opener=lambda: io.BytesIO(data)
        )
    if fmt is FileFormat.PICKLE:
        yield from analyze(blob.source(), location=blob.location).findings
    elif fmt is FileFormat.PYTORCH_LEGACY:
        yield from analyze(
            blob.source(), location=blob.location, trailing_ok=True, required_streams=LEGACY_STREAMS
        ).findings
    elif fmt is FileFormat.NUMPY:
        yield from _npy(blob)
    elif fmt in (FileFormat.ZIP, FileFormat.PYTORCH_ZIP, FileFormat.NUMPY_ZIP):
        yield from _zip(blob, depth, torch=fmt is FileFormat.PYTORCH_ZIP)
    elif fmt is FileFormat.TAR:
        yield from _tar(blob, depth)
    elif fmt in (FileFormat.GZIP, FileFormat.BZIP2, FileFormat.XZ, FileFormat.ZSTD, FileFormat.LZ4):
        yield from _compressed(blob, fmt, depth)
    elif fmt is FileFormat.SEVEN_ZIP:
        yield from _seven_zip(blob, depth)
    elif (
        fmt is FileFormat.UNKNOWN
        and blob.head(2)[:1] == b"\x78"
        and blob.head(2)[1:2] in _ZLIB_LEVELS
    ):
        yield from _zlib(blob, depth)  # e.g. joblib's compressed pickles
    elif fmt is FileFormat.UNKNOWN and is_joblib_zfile(blob.head(len(ZFILE_PREFIX))):
        yield from _zfile(blob, depth)
    elif fmt is FileFormat.JSON and depth > 0:  # e.g. config.json inside a .keras archive
        yield from _member_json(blob, depth)
    elif fmt is FileFormat.HDF5 and depth > 0 and h5_has_lambda(blob.read()):
        yield rules.KERAS_LAMBDA.finding(blob.location, "Lambda layer in the HDF5 model config")


def _npy(blob: Blob) -> Iterator[Finding]:
    head = blob.head()
    if not _NPY_OBJECT.search(head):
        return
    hlen = (
        int.from_bytes(head[8:10], "little") + 10
        if head[6] == 1
        else int.from_bytes(head[8:12], "little") + 12
    )
    yield from analyze(
        blob.read()[hlen:],
        location=Location(file=blob.location.file, member=blob.location.member, offset=hlen),
    ).findings


def _zip(blob: Blob, depth: int, *, torch: bool) -> Iterator[Finding]:
    try:
        zf = zipfile.ZipFile(
            blob.path if blob.data is None and blob.path else io.BytesIO(blob.read())
        )
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        yield rules.FILE_UNREADABLE.finding(blob.location, f"zip directory unreadable: {exc}")
        return
    names = [i.filename for i in infos]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        yield rules.ARCHIVE_DIFFERENTIAL.finding(
            blob.location, f"duplicate member names: {dupes[:5]}"
        )
    with blob.open() as raw:
        yield from zip_differentials(raw, infos, blob.location, blob.size, torch=torch)
    if "schema.json" in names and not torch:
        yield from _skops(zf, blob.location)
    for info in infos:
        loc = member_loc(blob.location, info.filename)
        if info.filename.startswith("/") or ".." in info.filename.split("/"):
            yield rules.ARCHIVE_TRAVERSAL.finding(loc, f"member path {info.filename!r}")
        if info.filename.endswith("/"):
            continue
        if info.file_size > MAX_INFLATE or (
            info.compress_size
            and info.file_size / info.compress_size > MAX_RATIO
            and info.file_size > 1 << 20
        ):
            yield rules.ARCHIVE_BOMB.finding(
                loc, f"{info.file_size} bytes from {info.compress_size}"
            )
            continue
        if torch and STORAGE.search(info.filename):
            continue  # torch reads storages as raw bytes
        try:
            data = zf.read(info)
        except (
            zipfile.BadZipFile,
            OSError,
            ValueError,
            EOFError,
            NotImplementedError,
            RuntimeError,
            zlib.error,  # a member whose method was flipped to deflate over stored bytes
            lzma.LZMAError,
        ) as exc:
            # Python refuses (bad CRC, "encrypted" flag…) where other loaders read on:
            # analyse the raw member the way a lenient reader would.
            with blob.open() as raw:
                lenient = raw_member(raw, info)
            if lenient is None:
                yield rules.FILE_UNREADABLE.finding(loc, f"member unreadable: {exc}")
                continue
            data = lenient
        if depth < MAX_DEPTH:
            yield from examine(Blob(data, loc), depth=depth + 1)


def _tar(blob: Blob, depth: int) -> Iterator[Finding]:
    try:
        tf = tarfile.open(fileobj=io.BytesIO(blob.read()))  # noqa: SIM115 (closed below)
        members = tf.getmembers()
    except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
        yield rules.FILE_UNREADABLE.finding(blob.location, f"tar unreadable: {exc}")
        return
    with tf:
        yield from _tar_members(tf, members, blob, depth)


def _tar_members(
    tf: tarfile.TarFile, members: list[tarfile.TarInfo], blob: Blob, depth: int
) -> Iterator[Finding]:
    for m in members:
        loc = member_loc(blob.location, m.name)
        if m.name.startswith("/") or ".." in m.name.split("/") or m.issym() or m.islnk():
            yield rules.ARCHIVE_TRAVERSAL.finding(
                loc, f"member {m.name!r} escapes the folder or is a link"
            )
        if not m.isfile():
            continue
        if m.size > MAX_INFLATE:
            yield rules.ARCHIVE_BOMB.finding(loc, f"{m.size} bytes")
            continue
        f = tf.extractfile(m)
        if f is not None and depth < MAX_DEPTH:
            yield from examine(Blob(f.read(), loc), depth=depth + 1)


def _compressed(blob: Blob, fmt: FileFormat, depth: int) -> Iterator[Finding]:
    try:
        stream = _decompressor(blob.read(), fmt)
        data = stream.read(MAX_INFLATE + 1)
    except Exception as exc:  # zlib.error, lzma.LZMAError, zstandard.ZstdError, OSError…
        yield rules.FILE_UNREADABLE.finding(blob.location, f"{fmt.value} stream unreadable: {exc}")
        return
    if len(data) > MAX_INFLATE:
        yield rules.ARCHIVE_BOMB.finding(
            blob.location, f"{fmt.value} stream inflates past {MAX_INFLATE} bytes"
        )
        return
    if depth < MAX_DEPTH:
        yield from examine(Blob(data, member_loc(blob.location, f"({fmt.value})")), depth=depth + 1)


def _decompressor(data: bytes, fmt: FileFormat) -> io.BufferedIOBase:
    if fmt is FileFormat.GZIP:
        return gzip.GzipFile(fileobj=io.BytesIO(data))
    if fmt is FileFormat.BZIP2:
        return bz2.BZ2File(io.BytesIO(data))
    if fmt is FileFormat.XZ:
        return lzma.LZMAFile(io.BytesIO(data))
    if fmt is FileFormat.LZ4:
        import lz4.frame  # imported only when an lz4 frame is met

        return lz4.frame.LZ4FrameFile(io.BytesIO(data))  # type: ignore[no-any-return]
    import zstandard  # imported only when a zstd stream is met

    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))  # type: ignore[return-value]


def _skops(zf: zipfile.ZipFile, location: Location) -> Iterator[Finding]:
    """A skops file: judge every type its schema names (its arrays are members too)."""
    import json

    loc = member_loc(location, "schema.json")
    info = zf.getinfo("schema.json")
    if info.file_size > _MAX_SCHEMA:
        yield rules.PICKLE_LIMIT.finding(loc, f"skops schema of {info.file_size} bytes")
        return
    try:
        schema = json.loads(zf.read(info))
    except (ValueError, RecursionError, zipfile.BadZipFile, OSError, RuntimeError) as exc:
        yield rules.FILE_UNREADABLE.finding(loc, f"skops schema unreadable: {exc}")
        return
    if isinstance(schema, dict) and "__loader__" in schema:
        yield from analyze_schema(schema, loc)


_MAX_SCHEMA = 256 * 1024 * 1024


def _member_json(blob: Blob, depth: int) -> Iterator[Finding]:
    import json

    try:
        doc = json.loads(blob.read()[: 64 * 1024 * 1024])
    except (ValueError, RecursionError):
        return
    if is_keras_config(doc):
        yield from analyze_keras_config(doc, blob.location)
        for name, data in torch_modules(doc):  # torch.load(weights_only=False) on load
            yield from examine(
                Blob(data, member_loc(blob.location, f"{name}.module")), None, depth + 1
            )


def _zlib(blob: Blob, depth: int) -> Iterator[Finding]:
    try:
        data = zlib.decompressobj().decompress(blob.read(), MAX_INFLATE + 1)
    except zlib.error:
        return  # not a zlib stream after all: an ordinary unknown binary
    if len(data) > MAX_INFLATE:
        yield rules.ARCHIVE_BOMB.finding(
            blob.location, f"zlib stream inflates past {MAX_INFLATE} bytes"
        )
    elif depth < MAX_DEPTH:
        yield from examine(Blob(data, member_loc(blob.location, "(zlib)")), depth=depth + 1)


# joblib < 0.10 ("compat"): b"ZF", the hex length padded to 19 characters, zlib data;
# joblib.load still reads it (numpy_pickle_compat.read_zfile).
ZFILE_PREFIX = b"ZF0x"
_ZFILE_HEADER = 2 + 19


def is_joblib_zfile(head: bytes) -> bool:
    return head.startswith(ZFILE_PREFIX)


def _zfile(blob: Blob, depth: int) -> Iterator[Finding]:
    data = blob.read()
    start = _ZFILE_HEADER + (data[_ZFILE_HEADER : _ZFILE_HEADER + 1] == b" ")
    try:
        inner = zlib.decompressobj().decompress(data[start:], MAX_INFLATE + 1)
    except zlib.error as exc:
        yield rules.FILE_UNREADABLE.finding(blob.location, f"joblib zfile unreadable: {exc}")
        return
    if len(inner) > MAX_INFLATE:
        yield rules.ARCHIVE_BOMB.finding(blob.location, "joblib zfile inflates past the bound")
    elif depth < MAX_DEPTH:
        yield from examine(
            Blob(inner, member_loc(blob.location, "(joblib zfile)")), depth=depth + 1
        )


def _seven_zip(blob: Blob, depth: int) -> Iterator[Finding]:
    """7z members, extracted into a private temporary folder after checking names and sizes."""
    import tempfile

    import py7zr

    try:
        with py7zr.SevenZipFile(blob.open(), "r") as z:
            infos = z.list()
            total = sum(i.uncompressed or 0 for i in infos)
            bad = [
                i.filename
                for i in infos
                if i.filename.startswith("/") or ".." in i.filename.split("/")
            ]
            for name in bad:
                yield rules.ARCHIVE_TRAVERSAL.finding(
                    member_loc(blob.location, name), f"member path {name!r}"
                )
            if total > MAX_INFLATE:
                yield rules.ARCHIVE_BOMB.finding(blob.location, f"members inflate to {total} bytes")
                return
            if bad:
                return
            with tempfile.TemporaryDirectory(prefix="ww-7z-") as tmp:
                z.extractall(path=tmp)  # noqa: S202 (names checked above, private temp dir)
                for f in sorted(Path(tmp).rglob("*")):
                    if f.is_file() and not f.is_symlink() and depth < MAX_DEPTH:
                        loc = member_loc(blob.location, f.relative_to(tmp).as_posix())
                        yield from examine(Blob(f.read_bytes(), loc), depth=depth + 1)
    except Exception as exc:  # py7zr raises its own error types for damaged archives
        yield rules.FILE_UNREADABLE.finding(blob.location, f"7z archive unreadable: {exc}")
