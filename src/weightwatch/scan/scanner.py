"""Scan files and folders: detect each file by content and run the analysers that apply."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from weightwatch.artifacts import gguf, safetensors
from weightwatch.artifacts.detect import detect_format
from weightwatch.artifacts.hfrepo import load_json
from weightwatch.artifacts.limits import MAX_INFLATE
from weightwatch.artifacts.model import FileFormat
from weightwatch.artifacts.opening import NOT_WEIGHTS, weight_like_name
from weightwatch.errors import ArtifactError, ScanError
from weightwatch.scan import rules
from weightwatch.scan.carve import carve, is_checkpoint_data
from weightwatch.scan.code_refs import loaded_python
from weightwatch.scan.containers import Blob, examine, is_joblib_zfile
from weightwatch.scan.findings import FileReport, Finding, Location, ScanReport
from weightwatch.scan.keras_onnx import (
    analyze_keras_config,
    analyze_onnx,
    h5_has_lambda,
    is_keras_config,
)
from weightwatch.scan.remote_code import analyze_auto_map, analyze_python
from weightwatch.scan.templates import analyze_template

_STRUCTURED = (FileFormat.SAFETENSORS, FileFormat.GGUF)
_STREAMED = (
    FileFormat.PYTORCH_ZIP,
    FileFormat.ZIP,
    FileFormat.NUMPY_ZIP,
    FileFormat.PICKLE,
    FileFormat.PYTORCH_LEGACY,
)


def scan_paths(paths: Sequence[str | os.PathLike[str]]) -> ScanReport:
    """Scan files and folders. Raises ``ScanError`` for a path that holds nothing the
    scanner can read (an empty folder; a file, or every weight-named file of a folder,
    holding text or unknown bytes with nothing found in them): that is not "clean"."""
    files: list[FileReport] = []
    for p in paths:
        root = Path(p)
        if not root.exists() and not root.is_symlink():
            raise ScanError(f"{root}: no such file or directory")
        these: list[tuple[FileReport, Path]] = []
        if root.is_dir():
            these = _scan_folder(root)
            if not these:
                raise ScanError(f"{root}: empty folder: nothing to scan")
            _require_something_read(these, every_file=False)
        else:  # a path the caller named is followed if it is a link
            code = None  # a lone file: its folder's configs decide whether a loader runs it
            if not root.is_symlink() and root.is_file() and _is_python(root):
                code = loaded_python(root.resolve().parent, recursive=False)
            these.append((scan_file(root.resolve(), display=str(root), code=code), root.resolve()))
            _require_something_read(these, every_file=True)
        files += [r for r, _ in these]
    return ScanReport(files=files)


def _scan_folder(root: Path) -> list[tuple[FileReport, Path]]:
    """Every file under ``root``; each JSON document is read once, for both the code a
    loader would run and its own findings."""
    parsed: dict[Path, list[Finding]] = {}
    real = root.resolve()

    def judge(path: Path, doc: object) -> None:  # named as the walk below names it
        display = (root / path.relative_to(real)).relative_to(root.parent).as_posix()
        parsed[path] = _json_doc_findings(doc, Location(file=display))

    code = loaded_python(root, seen=judge)
    these: list[tuple[FileReport, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            f = Path(dirpath) / name
            display = f.relative_to(root.parent).as_posix()
            found = None if f.is_symlink() else parsed.get(f.resolve())
            report = scan_file(f, display=display, root=root, code=code, json_findings=found)
            these.append((report, f))
    return these


def _is_python(path: Path) -> bool:
    try:
        return detect_format(path)[0] is FileFormat.PYTHON
    except OSError:
        return False


_NOTHING = frozenset({FileFormat.EMPTY.value, FileFormat.UNKNOWN.value})
_NOT_WEIGHTS = frozenset(f.value for f in NOT_WEIGHTS)
_ZLIB_LEVELS = (b"\x01", b"\x5e", b"\x9c", b"\xda")


def _unseen(r: FileReport, path: Path) -> bool:
    """Nothing was read: no format (or text where weights were promised), nothing found,
    and not a bare zlib stream (which ``examine`` decompresses and reads)."""
    junk = r.format in _NOTHING or (weight_like_name(r.path) and r.format in _NOT_WEIGHTS)
    if not junk or r.findings:
        return False
    if r.format == FileFormat.UNKNOWN.value and not path.is_symlink():
        with open(path, "rb") as f:
            head = f.read(4)
        return not (head[:1] == b"\x78" and head[1:2] in _ZLIB_LEVELS) and not is_joblib_zfile(head)
    return True


def _require_something_read(reports: list[tuple[FileReport, Path]], *, every_file: bool) -> None:
    """Raise if the weights these files claim to hold were not there to read."""
    named = [(r, p) for r, p in reports if weight_like_name(r.path)]
    models = [r for r, _ in reports if r.format not in _NOT_WEIGHTS]
    bad: list[FileReport] = []
    if every_file:
        bad = [r for r, p in reports if _unseen(r, p)]
    elif named and not models:
        bad = [r for r, p in named if _unseen(r, p)]
        bad = bad if len(bad) == len(named) else []
    if bad:
        r = bad[0]
        what = "is empty" if r.format == FileFormat.EMPTY.value else f"holds {r.format} content"
        raise ScanError(f"{r.path}: {what}, not a model file the scanner can read")


def scan_file(
    path: Path,
    *,
    display: str,
    root: Path | None = None,
    code: frozenset[Path] | None = None,
    json_findings: list[Finding] | None = None,
) -> FileReport:
    """Every analyser that applies to one file; unreadable means a finding, never a pass.
    ``code``: the Python files a loader would run (``code_refs.loaded_python``); None
    treats every Python file as run. ``json_findings``: the findings of this file's JSON document
    where the caller has already read it."""
    loc = Location(file=display)
    try:
        fmt, _detail = detect_format(path)
    except OSError as exc:
        return _unreadable(display, "unknown", loc, f"cannot read: {exc}")
    if fmt is FileFormat.SYMLINK:
        target = path.resolve()
        inside = root is not None and target.is_relative_to(root.resolve())
        found = (
            [] if inside else [rules.FILE_LINK_ESCAPES.finding(loc, f"links to {path.readlink()}")]
        )
        return FileReport(path=display, format=fmt.value, findings=found)
    findings: list[Finding] = []
    error = None
    if fmt in _STRUCTURED:
        try:
            findings.extend(_structured(path, fmt, loc))
        except ArtifactError as exc:
            findings.append(rules.FILE_UNREADABLE.finding(loc, exc.problem))
            error = exc.problem
    elif fmt is FileFormat.JSON:
        findings.extend(json_findings if json_findings is not None else _json_findings(path, loc))
    elif fmt is FileFormat.HDF5:
        findings.extend(_hdf5_findings(path, loc))
    elif fmt is FileFormat.ONNX:
        findings.extend(analyze_onnx(path.read_bytes()[:MAX_TEXT], loc))
    elif fmt is FileFormat.PYTHON:
        loaded = code is None or path.resolve() in code
        findings.extend(analyze_python(_text(path), loc, loaded=loaded))
    elif fmt is FileFormat.TEXT and path.stat().st_size <= MAX_TEXT:
        text = _text(path)
        if "{%" in text and ("message" in text or "role" in text):  # a chat template by content
            findings.extend(analyze_template(text, loc))
    else:
        size = path.stat().st_size
        if size > MAX_INFLATE and fmt not in _STREAMED:
            findings.append(
                rules.PICKLE_LIMIT.finding(loc, f"{size} bytes is beyond the scan bound")
            )
        elif size:
            # read lazily: zips by their directory, pickles as a stream up to their end
            findings.extend(examine(Blob(None, loc, path), fmt))
            if fmt is FileFormat.UNKNOWN and is_checkpoint_data(path):
                findings.extend(carve(path, loc))  # torch.load ranges only .metadata knows
    if any(f.rule_id in (rules.PICKLE_MALFORMED.id, rules.FILE_UNREADABLE.id) for f in findings):
        error = error or next(
            f.explanation
            for f in findings
            if f.rule_id in (rules.PICKLE_MALFORMED.id, rules.FILE_UNREADABLE.id)
        )
    return FileReport(path=display, format=fmt.value, findings=findings, error=error)


MAX_TEXT = 16 * 1024 * 1024


def _text(path: Path) -> str:
    with open(path, "rb") as f:
        return f.read(MAX_TEXT).decode("utf-8", "replace")


def _json_findings(path: Path, loc: Location) -> list[Finding]:
    try:
        doc = load_json(path, loc.file)
    except ArtifactError as exc:
        return [rules.FILE_UNREADABLE.finding(loc, exc.problem)]
    return _json_doc_findings(doc, loc)


def _json_doc_findings(doc: object, loc: Location) -> list[Finding]:
    if not isinstance(doc, dict):
        return []
    found = list(analyze_auto_map(doc, loc))
    if is_keras_config(doc):
        found.extend(analyze_keras_config(doc, loc))
    templates = doc.get("chat_template")
    if isinstance(templates, str):
        templates = [{"name": "default", "template": templates}]
    for item in templates if isinstance(templates, list) else []:
        if isinstance(item, dict) and isinstance(item.get("template"), str):
            tloc = Location(file=loc.file, member=f"chat_template[{item.get('name', 'default')}]")
            found.extend(analyze_template(item["template"], tloc))
    return found


def _structured(path: Path, fmt: FileFormat, loc: Location) -> list[Finding]:
    """A safetensors or GGUF file: its header validated, every byte that neither the header
    nor a tensor covers reported and scanned, a GGUF's chat template analysed."""
    size = path.stat().st_size
    if fmt is FileFormat.SAFETENSORS:
        st = safetensors.read_header(path, rel=loc.file)
        spans = [(off, off + info.nbytes) for info, off in st.tensors]
        return _uncovered_bytes(path, spans, (st.data_start, size), loc, padding=0)
    gg = gguf.read_gguf(path, rel=loc.file)
    spans = [(off, off + info.nbytes) for info, off, _tid in gg.tensors]
    pad = gg.alignment
    found = _uncovered_bytes(path, [], (gg.header_end, gg.data_start), loc, padding=pad)
    found += _uncovered_bytes(path, spans, (gg.data_start, size), loc, padding=pad)
    template = gg.metadata.get("tokenizer.chat_template")
    if isinstance(template, str):
        tloc = Location(file=loc.file, member="tokenizer.chat_template")
        found.extend(analyze_template(template, tloc))
    return found


MAX_HOLES = 16  # holes reported one by one; past that, one finding says there are more


def _uncovered_bytes(
    path: Path,
    spans: list[tuple[int, int]],
    region: tuple[int, int],
    loc: Location,
    *,
    padding: int,
) -> list[Finding]:
    """Bytes of ``region`` that no tensor span covers (gaps between tensors, the tail after
    the last): report them and scan them, from their first non-zero byte.

    The reference readers refuse such files (safetensors requires its tensors to cover the
    data section exactly; llama.cpp wants each GGUF tensor at the next aligned offset), so
    no real loader reads these bytes as weights, but a lenient reader or a second format
    can: a 22-byte pickle fits in any "slack". Only GGUF pads (to its alignment, with zero
    bytes), so only a GGUF may hold runs of zeros shorter than its alignment."""
    start, stop = region
    holes: list[tuple[int, int]] = []
    pos = start
    for begin, end in sorted(spans):
        if begin > pos:
            holes.append((pos, begin))
        pos = max(pos, end)
    if pos < stop:
        holes.append((pos, stop))
    last = max((e for _b, e in spans), default=start)
    found: list[Finding] = []
    reported = 0
    with open(path, "rb") as f:
        for begin, end in holes:
            f.seek(begin)
            data = f.read(min(end - begin, MAX_INFLATE))
            if padding and end - begin < padding and not data.strip(b"\0"):
                continue  # GGUF alignment padding
            if reported == MAX_HOLES:
                found.append(rules.TRAILING_DATA.finding(loc, "more ranges no tensor covers"))
                break
            reported += 1
            what = (
                f"{end - begin} bytes follow the last tensor at {begin}"
                if spans and begin >= last and end == stop
                else f"{end - begin} bytes at {begin}..{end} that no tensor covers"
            )
            found.append(rules.TRAILING_DATA.finding(loc, what))
            body = data.lstrip(b"\0")
            first = begin + len(data) - len(body)
            if body:
                found.extend(
                    examine(Blob(body, Location(file=loc.file, member=f"bytes {first}..{end}")))
                )
    return found


def _hdf5_findings(path: Path, loc: Location) -> list[Finding]:
    """Legacy Keras .h5: the model config JSON sits in an attribute; search it in chunks."""
    overlap, chunk = 64, 16 * 1024 * 1024
    tail = b""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            if h5_has_lambda(tail + block):
                return [rules.KERAS_LAMBDA.finding(loc, "Lambda layer in the HDF5 model config")]
            tail = block[-overlap:]
    return []


def _unreadable(display: str, fmt: str, loc: Location, why: str) -> FileReport:
    return FileReport(
        path=display, format=fmt, findings=[rules.FILE_UNREADABLE.finding(loc, why)], error=why
    )
