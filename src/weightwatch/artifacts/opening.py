"""``open_artifact``: list a file or folder, parse metadata and weight headers, pick the
primary weight set.

Opening parses every weight file's header but reads no tensor data. The primary weight
files must parse (an error names the file); any other weight file that cannot be read —
a trainer's ``optimizer.pt``, a stray pickle — is recorded in ``problems`` and raises
only when its tensors are asked for, since whether it is hostile is the scanner's call.
Symlinks inside a folder are listed, never followed.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weightwatch.artifacts import gguf as gguf_reader
from weightwatch.artifacts import hdf5 as hdf5_reader
from weightwatch.artifacts import hfrepo, torchfile
from weightwatch.artifacts import numpy as npy_reader
from weightwatch.artifacts import onnx as onnx_reader
from weightwatch.artifacts import safetensors as st_reader
from weightwatch.artifacts.artifact import Artifact
from weightwatch.artifacts.detect import detect_format
from weightwatch.artifacts.limits import LIMITS, UnpackLimits
from weightwatch.artifacts.model import (
    WEIGHT_FORMATS,
    WRAPPER_FORMATS,
    ArtifactFile,
    FileFormat,
    Tensor,
)
from weightwatch.artifacts.unwrap import needs_unwrap, unwrap_folder
from weightwatch.errors import ArtifactError

MAX_FILES = 100_000
_PRIORITY = (
    FileFormat.SAFETENSORS,
    FileFormat.PYTORCH_ZIP,
    FileFormat.PYTORCH_LEGACY,
    FileFormat.GGUF,
    FileFormat.NUMPY_ZIP,
    FileFormat.NUMPY,
    FileFormat.ONNX,
    FileFormat.HDF5,
)
_INDEX = {
    FileFormat.SAFETENSORS: "model.safetensors.index.json",
    FileFormat.PYTORCH_ZIP: "pytorch_model.bin.index.json",
    FileFormat.PYTORCH_LEGACY: "pytorch_model.bin.index.json",
}
# Written next to checkpoints by trainers; never the model's weights.
_SIDE_FILES = ("training_args.bin", "optimizer.pt", "optimizer.bin", "scheduler.pt", "scaler.pt")


# Formats that are not model weights under any name: a file named like weights that
# holds one of these was not seen, and saying "0 parameters" would hide that.
NOT_WEIGHTS = frozenset(
    {FileFormat.EMPTY, FileFormat.UNKNOWN, FileFormat.TEXT, FileFormat.JSON, FileFormat.PYTHON}
)
WEIGHT_SUFFIXES = (
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".ggml", ".npz", ".npy",
    ".onnx", ".h5", ".hdf5", ".keras", ".msgpack", ".tflite", ".pkl", ".joblib",
)  # fmt: skip
# What an uploader may add after a weight name: compressor suffixes and part numbers.
_WRAPPED_TAIL = re.compile(r"\.(gz|gzip|bz2|xz|lzma|zst|zstd|lz4|part\d+|\d{2,4}|[a-z]{2})$")


def weight_like_name(rel: str) -> bool:
    """A file name that claims to hold weights (``model.safetensors``, also with wrapper
    suffixes or part numbers after it: ``model.safetensors.gz``, ``model.bin.part2``)."""
    name = Path(rel).name.lower()
    for _ in range(3):
        if name.endswith(WEIGHT_SUFFIXES):
            return True
        shorter = _WRAPPED_TAIL.sub("", name)
        if shorter == name:
            return False
        name = shorter
    return False


def open_artifact(
    path: str | os.PathLike[str], *, limits: UnpackLimits = LIMITS, require_weights: bool = True
) -> Artifact:
    """Open a model file or folder for reading; raises ``ArtifactError`` if unreadable.

    Weights wrapped in compressors or archives, or split into parts, are unpacked into a
    private view within ``limits`` (see ``unwrap``). A path that holds nothing readable
    (an empty folder; a file, or a folder's only weight-named file, holding text or
    unknown bytes) raises, naming the file.
    """
    root = Path(path)
    if not root.exists() and not root.is_symlink():
        raise ArtifactError(root, "no such file or directory")
    if root.is_dir():
        files = [_listed(rel, p) for rel, p in _walk(root)]
        if not files:
            raise ArtifactError(root, "empty folder: no files, so no weights to read")
        art = _open_unwrapped(root, files, limits, is_dir=True)
        if require_weights:  # off: a registry reads the metadata of what it quarantines
            _require_weights_if_named(art, files)
        return art
    # A path the caller named is followed; links *inside* a folder are only listed.
    root = root.resolve()
    fmt, detail = _detect(root, root.name)
    f = ArtifactFile(root.name, root.stat().st_size, fmt, detail)
    if fmt in WRAPPER_FORMATS:
        art = _open_unwrapped(root.parent, [f], limits, is_dir=False)
        if not art.primary_files:
            raise ArtifactError(root, "the wrapper holds no weight file this reader knows")
        return art
    if fmt in NOT_WEIGHTS:
        what = {FileFormat.EMPTY: "is empty"}.get(fmt, f"holds {fmt.value}{_paren(detail)}")
        raise ArtifactError(root, f"{what}, not model weights in any format this reader knows")
    read = _read_weights(root, f) if fmt in WEIGHT_FORMATS else None
    return Artifact(
        root=root.parent,
        is_dir=False,
        files=(f,),
        primary_files=(f.path,) if read else (),
        tokenizer=read.tokenizer if read else None,
        gguf_metadata=read.gguf_metadata if read else None,
        _tensors={f.path: read.tensors} if read else {},
    )


def _paren(detail: str) -> str:
    return f" ({detail})" if detail else ""


def _listed(rel: str, p: Path) -> ArtifactFile:
    fmt, detail = _detect(p, rel)
    size = p.lstat().st_size if fmt is not FileFormat.SYMLINK else 0
    return ArtifactFile(rel, size, fmt, detail)


def _open_unwrapped(
    root: Path, files: list[ArtifactFile], limits: UnpackLimits, *, is_dir: bool
) -> Artifact:
    """Open ``files`` of ``root``; through an unpacked view if any is a wrapper or a part."""
    entries = [(f.path, f.format) for f in files]
    if not needs_unwrap(entries):
        return _open_folder(root, files)
    view = unwrap_folder(root, entries, limits=limits)
    try:
        inner = _open_folder(view.folder, [_listed(r, p) for r, p in _walk(view.folder)])
    except BaseException:
        view.close()
        raise
    seen = {f.path for f in inner.files}
    shown = [
        dataclasses.replace(f, detail=view.unwrapped[f.path]) if f.path in view.unwrapped else f
        for f in inner.files
    ]
    shown += [f for f in files if f.path not in seen]  # the wrappers themselves, as uploaded
    return dataclasses.replace(
        inner,
        root=root,
        is_dir=is_dir,
        files=tuple(sorted(shown, key=lambda f: f.path)),
        _scratch=view,
    )


def _require_weights_if_named(art: Artifact, files: list[ArtifactFile]) -> None:
    """A folder whose weight-named files are all text or noise: say so, naming one."""
    if art.primary_files:
        return
    named = [f for f in files if weight_like_name(f.path)]
    if named and all(f.format in NOT_WEIGHTS for f in named):
        f = named[0]
        what = "is empty" if f.format is FileFormat.EMPTY else f"holds {f.format.value}"
        raise ArtifactError(f.path, f"{what}{_paren(f.detail)}, not model weights")


def _detect(p: Path, rel: str) -> tuple[FileFormat, str]:
    try:
        return detect_format(p)
    except OSError as exc:
        raise ArtifactError(rel, f"cannot read: {exc.strerror or exc}") from exc


def _walk(root: Path) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        names = sorted(filenames) + [d for d in dirnames if (base / d).is_symlink()]
        for name in names:
            p = base / name
            out.append((p.relative_to(root).as_posix(), p))
            if len(out) > MAX_FILES:
                raise ArtifactError(root, f"more than {MAX_FILES} files")
    return out


def _open_folder(root: Path, files: list[ArtifactFile]) -> Artifact:
    listed = {f.path: f for f in files}
    problems: list[str] = []
    config, card, adapter = _metadata(root, listed, problems)
    tokenizer = hfrepo.parse_tokenizer(root, problems)
    primary = _choose_primary(root, listed, adapter is not None)
    tensors: dict[str, tuple[Tensor, ...]] = {}
    failed: dict[str, ArtifactError] = {}
    gguf_meta = None
    for f in files:
        if f.format not in WEIGHT_FORMATS:
            continue
        try:
            read = _read_weights(root / f.path, f)
        except ArtifactError as exc:
            if f.path in primary:
                raise
            failed[f.path] = exc
            problems.append(str(exc))
            continue
        tensors[f.path] = read.tensors
        if f.path in primary and gguf_meta is None and read.gguf_metadata is not None:
            gguf_meta = read.gguf_metadata
            tokenizer = tokenizer or read.tokenizer
    _check_index(root, listed, primary, tensors, problems)
    return Artifact(
        root=root,
        is_dir=True,
        files=tuple(files),
        primary_files=primary,
        config=config,
        tokenizer=tokenizer,
        card=card,
        adapter=adapter,
        gguf_metadata=gguf_meta,
        problems=tuple(problems),
        _tensors=tensors,
        _failed=failed,
    )


def _regular(listed: dict[str, ArtifactFile], name: str, *formats: FileFormat) -> bool:
    f = listed.get(name)
    return f is not None and f.format in formats


def _metadata(
    root: Path, listed: dict[str, ArtifactFile], problems: list[str]
) -> tuple[hfrepo.ConfigInfo | None, hfrepo.CardInfo | None, hfrepo.AdapterInfo | None]:
    config = card = adapter = None
    if "config.json" in listed:
        try:
            if not _regular(listed, "config.json", FileFormat.JSON):
                raise ArtifactError("config.json", "not a JSON file (or a symlink)")
            raw = hfrepo.load_json(root / "config.json", "config.json")
            config = hfrepo.parse_config(raw, "config.json")
        except ArtifactError as exc:
            problems.append(str(exc))
    if _regular(listed, "README.md", FileFormat.TEXT, FileFormat.JSON):
        text = (root / "README.md").read_bytes()[: hfrepo.MAX_JSON].decode("utf-8", "replace")
        card = hfrepo.parse_card(text, problems)
    if "adapter_config.json" in listed:
        try:
            if not _regular(listed, "adapter_config.json", FileFormat.JSON):
                raise ArtifactError("adapter_config.json", "not a JSON file (or a symlink)")
            raw = hfrepo.load_json(root / "adapter_config.json", "adapter_config.json")
            adapter = hfrepo.parse_adapter(raw, "adapter_config.json")
        except ArtifactError as exc:
            problems.append(str(exc))
    return config, card, adapter


@dataclass(frozen=True)
class _Read:
    tensors: tuple[Tensor, ...]
    gguf_metadata: dict[str, Any] | None = None
    tokenizer: hfrepo.TokenizerInfo | None = None


def _read_weights(p: Path, f: ArtifactFile) -> _Read:
    """Tensors of one weight file, plus GGUF metadata and tokenizer where there are any."""
    if f.format is FileFormat.SAFETENSORS:
        return _Read(tuple(st_reader.iter_tensors(p, rel=f.path)))
    if f.format is FileFormat.GGUF:
        contents = gguf_reader.read_gguf(p, rel=f.path)
        tok = _gguf_tokenizer(contents) if contents.tokens else None
        return _Read(tuple(gguf_reader.iter_tensors(p, contents)), contents.metadata, tok)
    if f.format is FileFormat.PYTORCH_ZIP:
        return _Read(tuple(torchfile.iter_tensors(torchfile.read_torch_zip(p, rel=f.path))))
    if f.format is FileFormat.PYTORCH_LEGACY:
        return _Read(tuple(torchfile.iter_tensors(torchfile.read_torch_legacy(p, rel=f.path))))
    if f.format is FileFormat.HDF5:
        return _Read(tuple(hdf5_reader.iter_tensors(p, rel=f.path)))
    if f.format is FileFormat.ONNX:
        return _Read(tuple(onnx_reader.iter_tensors(p, rel=f.path)))
    if f.format is FileFormat.NUMPY:
        return _Read(tuple(npy_reader.read_npy(p, rel=f.path, name=Path(f.path).stem)))
    return _Read(tuple(npy_reader.read_npz(p, rel=f.path)))


def _gguf_tokenizer(contents: gguf_reader.GGUFContents) -> hfrepo.TokenizerInfo:
    meta = contents.metadata
    templates = {}
    if isinstance(meta.get("tokenizer.chat_template"), str):
        templates["default"] = meta["tokenizer.chat_template"]
    vocab: dict[str, int] = {}
    for i, tok in enumerate(contents.tokens):
        vocab.setdefault(tok, i)
    special: dict[str, str] = {}
    for role, hf_name in GGUF_SPECIAL_TOKENS.items():
        idx = meta.get(f"tokenizer.ggml.{role}_token_id")
        if isinstance(idx, int) and not isinstance(idx, bool) and 0 <= idx < len(contents.tokens):
            special[hf_name] = contents.tokens[idx]
    return hfrepo.TokenizerInfo(vocab, templates, special, "gguf")


# llama.cpp's special-token roles (``tokenizer.ggml.<role>_token_id``), as the Hugging
# Face names ``bos_token``, ``eos_token``, ``pad_token`` ... of special_tokens_map.json.
GGUF_SPECIAL_TOKENS = {
    "bos": "bos_token",
    "eos": "eos_token",
    "unknown": "unk_token",
    "padding": "pad_token",
    "sep": "sep_token",
    "cls": "cls_token",
    "mask": "mask_token",
    "eot": "eot_token",
}


def _choose_primary(root: Path, listed: dict[str, ArtifactFile], adapter: bool) -> tuple[str, ...]:
    """By format and layout only, before any weight file is parsed."""
    fmts = {
        p: f.format
        for p, f in listed.items()
        if f.format in WEIGHT_FORMATS
        and not (Path(p).name in _SIDE_FILES or Path(p).name.startswith("rng_state"))
    }
    top = [p for p in fmts if "/" not in p] or list(fmts)
    if adapter:
        adapters = [p for p in top if Path(p).name.startswith("adapter_model")]
        if adapters:
            return tuple(adapters)
    for fmt in _PRIORITY:
        chosen = [p for p in top if fmts[p] is fmt]
        if not chosen:
            continue
        index = _INDEX.get(fmt)
        if index and _regular(listed, index, FileFormat.JSON):
            return tuple(sorted(set(_weight_map(root, index, fmt, chosen).values())))
        if fmt is FileFormat.GGUF:
            return (chosen[0],)  # several GGUFs are usually several quantizations
        return tuple(chosen)
    return ()


def _weight_map(root: Path, name: str, fmt: FileFormat, chosen: list[str]) -> dict[str, str]:
    data = hfrepo.load_json(root / name, name)
    wmap = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(wmap, dict) or not all(isinstance(v, str) for v in wmap.values()):
        raise ArtifactError(name, "index has no weight_map of tensor name -> file")
    for s in set(wmap.values()):
        if s not in chosen:
            raise ArtifactError(
                name, f"index names shard {s[:200]!r}, which is missing or not {fmt.value}"
            )
    return wmap


def _check_index(
    root: Path,
    listed: dict[str, ArtifactFile],
    primary: tuple[str, ...],
    tensors: dict[str, tuple[Tensor, ...]],
    problems: list[str],
) -> None:
    """Every tensor the index promises is in the shard it names; no name in two shards."""
    owner: dict[str, str] = {}
    for shard in primary:
        for t in tensors.get(shard, ()):
            if t.name in owner:
                problems.append(f"tensor {t.name!r} is in both {owner[t.name]} and {shard}")
            owner.setdefault(t.name, shard)
    fmts = {listed[p].format for p in primary}
    for fmt in fmts:
        index = _INDEX.get(fmt)
        if not index or not _regular(listed, index, FileFormat.JSON):
            continue
        wmap = _weight_map(root, index, fmt, list(primary))
        held = {s: {t.name for t in tensors.get(s, ())} for s in set(wmap.values())}
        for tname, shard in wmap.items():
            if tname not in held[shard]:
                raise ArtifactError(index, f"index maps {tname[:200]!r} to {shard}, which lacks it")
        extra = sorted(set(owner) - set(wmap))
        if extra:
            problems.append(f"{index}: {len(extra)} tensors in shards but not in the index")
