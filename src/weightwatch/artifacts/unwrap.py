"""Find the weights inside wrappers: compressed files, archives (nested) and split parts.

An uploader can hide a model from a reader that trusts names by gzipping it, zipping it,
tarring it, splitting it with ``split`` or renaming it. ``unwrap_folder`` builds a private
*view* of a folder in a temporary directory: every wrapper is unpacked (by content, never
by name), split parts are joined, and everything else is hard-linked (or copied) as it is.
Unpacking streams in 1 MiB chunks and stops at the ``UnpackLimits`` shared with the scanner
(per member, per artifact, compression ratio, depth); past one the open fails with an
``ArtifactError`` naming the file, never a partial view. Archive member names are checked
(no absolute paths, no ``..``, no links); nothing unpacked is executed.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from weightwatch.artifacts.detect import detect_format
from weightwatch.artifacts.limits import LIMITS, RATIO_FLOOR, UnpackLimits
from weightwatch.artifacts.model import (
    ARCHIVE_FORMATS,
    COMPRESSED_FORMATS,
    WRAPPER_FORMATS,
    FileFormat,
)
from weightwatch.artifacts.splits import join_parts, split_groups
from weightwatch.errors import ArtifactError

_CHUNK = 1 << 20
_SUFFIXES = {
    FileFormat.GZIP: (".gz", ".gzip"),
    FileFormat.BZIP2: (".bz2", ".bzip2"),
    FileFormat.XZ: (".xz", ".lzma"),
    FileFormat.ZSTD: (".zst", ".zstd"),
    FileFormat.LZ4: (".lz4",),
}


@dataclass
class View:
    """A folder to open in place of the original, and what was unwrapped to make it."""

    folder: Path
    scratch: tempfile.TemporaryDirectory[str] | None = None
    unwrapped: dict[str, str] = field(default_factory=dict)  # view path -> how it was found
    budget: int = 0

    def close(self) -> None:
        if self.scratch is not None:
            self.scratch.cleanup()


def needs_unwrap(entries: list[tuple[str, FileFormat]]) -> bool:
    """True if any file is a wrapper (other than a torch/NumPy zip) or a split part."""
    if any(fmt in WRAPPER_FORMATS for _rel, fmt in entries):
        return True
    return bool(split_groups(entries))


def unwrap_folder(
    root: Path, entries: list[tuple[str, FileFormat]], *, limits: UnpackLimits = LIMITS
) -> View:
    """A view of ``root`` with wrappers unpacked and split parts joined (see module doc)."""
    scratch = tempfile.TemporaryDirectory(prefix="ww-unwrap-")
    view = View(Path(scratch.name), scratch, budget=limits.total)
    try:
        groups = split_groups(entries)
        in_group = {rel for g in groups for rel in g.parts}
        # plain files first, so an archive member never displaces a listed file
        for rel, fmt in sorted(entries, key=lambda e: e[1] in WRAPPER_FORMATS):
            if rel in in_group:
                continue
            _place(view, root / rel, rel, fmt, limits, depth=0)
        for g in groups:
            joined = _free(view, g.joined, g.parts[0])
            out = _fresh(view)
            size = join_parts([root / p for p in g.parts], out, limit=view.budget)
            view.budget -= size
            view.unwrapped[joined] = f"joined from {len(g.parts)} parts: {', '.join(g.parts)}"
            fmt, _ = detect_format(out)
            if fmt in WRAPPER_FORMATS:
                _place(view, out, joined, fmt, limits, depth=1, source=out)
                out.unlink()
            else:
                (view.folder / joined).parent.mkdir(parents=True, exist_ok=True)
                out.rename(view.folder / joined)
    except BaseException:
        view.close()
        raise
    return view


def _place(
    view: View,
    src: Path,
    rel: str,
    fmt: FileFormat,
    limits: UnpackLimits,
    *,
    depth: int,
    source: Path | None = None,
) -> None:
    """Put ``src`` (at view path ``rel``) into the view, unpacking it if it is a wrapper."""
    if fmt is FileFormat.SYMLINK:
        dest = view.folder / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(src.readlink())
        return
    if fmt not in WRAPPER_FORMATS:
        if source is None:
            _link(src, view.folder / rel)
        return
    if depth >= limits.depth:
        raise ArtifactError(rel, f"wrappers nested more than {limits.depth} deep")
    if fmt in COMPRESSED_FORMATS:
        inner = _free(view, _strip_suffix(rel, fmt), rel)
        tmp = _fresh(view)
        with open(src, "rb") as raw, _decompressor(raw, fmt) as stream:
            n = _copy_bounded(stream, tmp, rel, fmt.value, view, limits, src.stat().st_size)
        view.unwrapped[inner] = f"{fmt.value} from {rel} ({n} bytes)"
        inner_fmt, _ = detect_format(tmp)
        if inner_fmt in WRAPPER_FORMATS:
            _place(view, tmp, inner, inner_fmt, limits, depth=depth + 1, source=tmp)
            tmp.unlink()
        else:
            (view.folder / inner).parent.mkdir(parents=True, exist_ok=True)
            tmp.rename(view.folder / inner)
        return
    assert fmt in ARCHIVE_FORMATS
    base = str(Path(rel).parent) if "/" in rel else ""
    members = list(_extract(src, rel, fmt, view, limits))
    tops = {name.split("/", 1)[0] for name, _ in members}
    if len(tops) == 1 and all("/" in name for name, _ in members):
        # a folder archived whole ("tar czf m.tgz my-model/"): its contents are the model
        members = [(name.split("/", 1)[1], p) for name, p in members]
    for name, member_path in members:
        vrel = _free(view, f"{base}/{name}" if base else name, rel, member=name)
        view.unwrapped[vrel] = f"member {name} of {fmt.value} {rel}"
        mfmt, _ = detect_format(member_path)
        if mfmt in WRAPPER_FORMATS:
            _place(view, member_path, vrel, mfmt, limits, depth=depth + 1, source=member_path)
            member_path.unlink()
        else:
            dest = view.folder / vrel
            dest.parent.mkdir(parents=True, exist_ok=True)
            member_path.rename(dest)
    for top in {p.relative_to(view.folder).parts[0] for _, p in members}:
        shutil.rmtree(view.folder / top, ignore_errors=True)


def _fresh(view: View) -> Path:
    """A new, empty file of our own in the view (never a link to an uploaded file)."""
    fd, name = tempfile.mkstemp(prefix=".ww-stream-", dir=view.folder)
    os.close(fd)
    return Path(name)


def _free(view: View, vrel: str, wrapper: str, *, member: str | None = None) -> str:
    """``vrel``, or ``<wrapper>.d/<name>`` when that would shadow a file already in the
    view. Files in the view may be hard links to the upload: nothing is ever written to,
    or renamed over, a path that exists."""
    if not (view.folder / vrel).exists() and not (view.folder / vrel).is_symlink():
        return vrel
    alt = f"{wrapper}.d/{member or Path(vrel).name}"
    if (view.folder / alt).exists():
        raise ArtifactError(wrapper, f"two unpacked files would both be {alt!r}")
    return alt


def _link(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:  # another file system: copy (only folders that hold a wrapper get here)
        shutil.copyfile(src, dest)


def _strip_suffix(rel: str, fmt: FileFormat) -> str:
    for suffix in _SUFFIXES.get(fmt, ()):
        if rel.lower().endswith(suffix) and len(rel) > len(suffix):
            return rel[: -len(suffix)]
    if rel.lower().endswith(".tgz"):
        return rel[:-4] + ".tar"
    return rel + ".unpacked"  # renamed: the inner content is sniffed, never the name


def _decompressor(raw: IO[bytes], fmt: FileFormat) -> Any:
    if fmt is FileFormat.GZIP:
        return gzip.GzipFile(fileobj=raw)
    if fmt is FileFormat.BZIP2:
        return bz2.BZ2File(raw)
    if fmt is FileFormat.XZ:
        return lzma.LZMAFile(raw)
    if fmt is FileFormat.LZ4:
        import lz4.frame

        return lz4.frame.LZ4FrameFile(raw)
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(raw, closefd=False)


def _copy_bounded(
    stream: IO[bytes],
    out: Path,
    rel: str,
    what: str,
    view: View,
    limits: UnpackLimits,
    compressed: int,
) -> int:
    """Stream ``stream`` into ``out``; refuse past the member, total or ratio limit."""
    cap = min(limits.member, view.budget)
    n = 0
    try:
        with open(out, "wb") as f:
            while chunk := stream.read(_CHUNK):
                n += len(chunk)
                if n > cap:
                    which = "member" if cap == limits.member else "artifact total"
                    raise ArtifactError(
                        rel, f"{what} inflates past {cap} bytes (the {which} limit): refused"
                    )
                if n > RATIO_FLOOR and n > limits.ratio * max(compressed, 1):
                    raise ArtifactError(
                        rel,
                        f"{what} expands more than {limits.ratio}x ({compressed} bytes to "
                        f"over {n}): refused as a decompression bomb",
                    )
                f.write(chunk)
    except ArtifactError:
        out.unlink(missing_ok=True)
        raise
    except Exception as exc:  # zlib/lzma/zstd/lz4 errors, EOFError on truncation, OSError
        out.unlink(missing_ok=True)
        raise ArtifactError(rel, f"{what} stream is damaged or truncated: {exc}") from exc
    view.budget -= n
    return n


def _safe_name(rel: str, name: str) -> str:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise ArtifactError(rel, f"archive member {name[:200]!r} escapes the folder: refused")
    joined = "/".join(p for p in parts if p and p != ".")
    if not joined:
        raise ArtifactError(rel, f"archive member {name[:200]!r} has no file name: refused")
    return joined


def _extract(
    src: Path, rel: str, fmt: FileFormat, view: View, limits: UnpackLimits
) -> Iterator[tuple[str, Path]]:
    """(member name, unpacked file) for each regular member, bounded while it streams.

    The files lie in a private folder of the view (``.ww-members-*``) until the caller
    moves them into place; whatever is left there is removed with the view."""
    out_dir = Path(tempfile.mkdtemp(prefix=".ww-members-", dir=view.folder))
    if fmt is FileFormat.ZIP:
        yield from _zip_members(src, rel, out_dir, view, limits)
    elif fmt is FileFormat.TAR:
        yield from _tar_members(src, rel, out_dir, view, limits)
    else:
        yield from _7z_members(src, rel, out_dir, view, limits)


def _zip_members(
    src: Path, rel: str, out_dir: Path, view: View, limits: UnpackLimits
) -> Iterator[tuple[str, Path]]:
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ArtifactError(rel, f"zip archive unreadable: {exc}") from exc
    with zf:
        # not ``ZipInfo.is_dir()``: it indexes the name and raises on an empty one
        infos = [i for i in zf.infolist() if not i.filename.endswith("/")]
        if len(infos) > limits.members:
            raise ArtifactError(rel, f"zip holds {len(infos)} members (limit {limits.members})")
        for i, info in enumerate(infos):
            name = _safe_name(rel, info.filename)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise ArtifactError(rel, f"archive member {name!r} is a symlink: refused")
            out = out_dir / str(i)
            try:
                with zf.open(info) as stream:
                    _copy_bounded(
                        stream,
                        out,
                        f"{rel}!{name}",
                        "zip member",
                        view,
                        limits,
                        info.compress_size,
                    )
            except (
                zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, ValueError,
                EOFError, zlib.error,
            ) as exc:  # fmt: skip
                raise ArtifactError(rel, f"zip member {name!r} unreadable: {exc}") from exc
            yield name, out


def _tar_members(
    src: Path, rel: str, out_dir: Path, view: View, limits: UnpackLimits
) -> Iterator[tuple[str, Path]]:
    try:
        tf = tarfile.open(src, mode="r:")  # noqa: SIM115 (closed below); compressors unwrap first
    except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
        raise ArtifactError(rel, f"tar archive unreadable: {exc}") from exc
    with tf:
        count = 0
        try:
            for m in tf:
                if m.isdir():
                    continue
                name = _safe_name(rel, m.name)
                if not m.isfile():
                    raise ArtifactError(rel, f"tar member {name!r} is a link or device: refused")
                count += 1
                if count > limits.members:
                    raise ArtifactError(rel, f"tar holds over {limits.members} members")
                stream = tf.extractfile(m)
                if stream is None:
                    continue
                out = out_dir / str(count)
                _copy_bounded(stream, out, f"{rel}!{name}", "tar member", view, limits, m.size)
                yield name, out
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ArtifactError(rel, f"tar archive damaged: {exc}") from exc


def _7z_members(
    src: Path, rel: str, out_dir: Path, view: View, limits: UnpackLimits
) -> Iterator[tuple[str, Path]]:
    """py7zr extracts whole archives: names and declared sizes are checked first, and the
    declared total must fit the remaining budget before anything is written."""
    import py7zr

    try:
        with py7zr.SevenZipFile(src, "r") as z:
            infos = [i for i in z.list() if not i.is_directory]
            if len(infos) > limits.members:
                raise ArtifactError(rel, f"7z holds {len(infos)} members (limit {limits.members})")
            for i in infos:
                _safe_name(rel, i.filename)
                if i.is_symlink:
                    raise ArtifactError(rel, f"7z member {i.filename!r} is a symlink: refused")
            total = sum(i.uncompressed or 0 for i in infos)
            packed = max(src.stat().st_size, 1)
            if any((i.uncompressed or 0) > limits.member for i in infos) or total > view.budget:
                raise ArtifactError(rel, f"7z members inflate to {total} bytes: refused")
            if total > RATIO_FLOOR and total > limits.ratio * packed:
                raise ArtifactError(rel, f"7z expands {total // packed}x: refused as a bomb")
            z.extractall(path=out_dir)  # noqa: S202 (names checked above, private folder)
    except ArtifactError:
        raise
    except Exception as exc:  # py7zr's own error types for damaged archives
        raise ArtifactError(rel, f"7z archive unreadable: {exc}") from exc
    written = 0
    for f in sorted(out_dir.rglob("*")):
        if f.is_symlink() or not f.is_file():
            continue
        written += f.stat().st_size
        yield f.relative_to(out_dir).as_posix(), f
    view.budget -= written
