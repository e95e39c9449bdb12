"""``open_artifact``: a file or a Hugging Face–style folder as one readable ``Artifact``.

Opening lists every file with its detected format and parses every weight file's header
(so a corrupt file fails here, naming itself), but reads no tensor data. When a folder
holds the same model in several formats (safetensors and a ``.bin``), one *primary*
weight set is chosen for totals and iteration, so nothing is counted twice; every file
stays reachable through ``iter_tensors(file=...)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from weightwatch.artifacts import gguf as gguf_reader
from weightwatch.artifacts import hfrepo, torchfile
from weightwatch.artifacts import numpy as npy_reader
from weightwatch.artifacts import safetensors as st_reader
from weightwatch.artifacts.detect import detect_format
from weightwatch.artifacts.model import ArtifactFile, FileFormat, Tensor, TensorInfo
from weightwatch.errors import ArtifactError

MAX_FILES = 100_000
_PRIORITY = (
    FileFormat.SAFETENSORS,
    FileFormat.PYTORCH_ZIP,
    FileFormat.PYTORCH_LEGACY,
    FileFormat.GGUF,
    FileFormat.NUMPY_ZIP,
    FileFormat.NUMPY,
)
_OUTPUT_EMBEDDINGS = ("lm_head.weight", "output.weight")
_INPUT_EMBEDDINGS = (
    "model.embed_tokens.weight",
    "transformer.wte.weight",
    "embed_tokens.weight",
    "wte.weight",
    "token_embd.weight",
    "model.language_model.embed_tokens.weight",
)


@dataclass(frozen=True)
class Totals:
    parameter_count: int  # tied weights counted once
    tensor_count: int
    bytes_by_dtype: dict[str, int]
    params_by_dtype: dict[str, int]
    tied: tuple[tuple[str, str], ...]  # (name counted, name skipped)


@dataclass
class Artifact:
    """A model artifact opened for reading. Build with ``open_artifact``."""

    root: Path
    is_dir: bool
    files: tuple[ArtifactFile, ...]
    primary_files: tuple[str, ...]
    config: hfrepo.ConfigInfo | None = None
    tokenizer: hfrepo.TokenizerInfo | None = None
    card: hfrepo.CardInfo | None = None
    adapter: hfrepo.AdapterInfo | None = None
    gguf_metadata: dict[str, Any] | None = None
    problems: tuple[str, ...] = ()
    _tensors: dict[str, list[Tensor]] = field(default_factory=dict, repr=False)

    # -- tensors ---------------------------------------------------------------
    def iter_tensors(self, *, file: str | None = None) -> Iterator[Tensor]:
        """Lazy tensors of the primary weight set, or of one file."""
        files = (file,) if file is not None else self.primary_files
        for f in files:
            if f not in self._tensors:
                raise ArtifactError(self.root / f, "not a weight file of this artifact")
            yield from self._tensors[f]

    def tensor_infos(self, *, file: str | None = None) -> list[TensorInfo]:
        return [t.info for t in self.iter_tensors(file=file)]

    def tensor(self, name: str) -> Tensor:
        for t in self.iter_tensors():
            if t.name == name:
                return t
        raise ArtifactError(self.root, f"no tensor named {name!r}")

    @property
    def weight_files(self) -> tuple[str, ...]:
        return tuple(self._tensors)

    # -- derived facts -----------------------------------------------------------
    @property
    def family(self) -> str | None:
        """Architecture family (llama, gpt2, qwen2, ...) from config or GGUF metadata."""
        if self.config and self.config.model_type:
            return self.config.model_type
        if self.gguf_metadata and isinstance(self.gguf_metadata.get("general.architecture"), str):
            return str(self.gguf_metadata["general.architecture"])
        if self.adapter and self.adapter.peft_type:
            return f"adapter:{self.adapter.peft_type.lower()}"
        return None

    @cached_property
    def canonical_tensors(self) -> tuple[tuple[Tensor, ...], tuple[tuple[str, str], ...]]:
        """The primary tensors with tied duplicates removed, and the (kept, dropped) pairs.

        Tensors sharing one storage view, or output embeddings equal to the input
        embeddings under ``tie_word_embeddings``, are one parameter. The input-side name
        is kept (as ``save_pretrained`` does), so the same model saved as safetensors or
        as a ``.bin`` holding both names yields the same set.
        """
        tensors = list(self.iter_tensors())
        group_of: dict[str, str] = {}  # name -> group key
        groups: dict[str, list[Tensor]] = {}
        for t in tensors:
            key = f"{t.storage_key}|{t.shape}|{t.dtype}" if t.storage_key else f"name|{t.name}"
            group_of[t.name] = key
            groups.setdefault(key, []).append(t)
        by_name = {t.name: t for t in tensors}
        for out_name, in_name in self._tied_by_config(by_name).items():
            a, b = group_of[out_name], group_of[in_name]
            if a != b:
                groups[b].extend(groups.pop(a))
                for t in groups[b]:
                    group_of[t.name] = b
        kept: list[Tensor] = []
        tied: list[tuple[str, str]] = []
        for members in groups.values():
            members.sort(key=lambda t: (t.name in _OUTPUT_EMBEDDINGS, t.name))
            kept.append(members[0])
            tied += [(members[0].name, m.name) for m in members[1:]]
        kept.sort(key=lambda t: t.name)
        return tuple(kept), tuple(sorted(tied))

    @cached_property
    def totals(self) -> Totals:
        kept, tied = self.canonical_tensors
        by_dtype: dict[str, int] = {}
        params_by_dtype: dict[str, int] = {}
        for t in self.iter_tensors():
            by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.info.nbytes
        for t in kept:
            params_by_dtype[t.dtype] = params_by_dtype.get(t.dtype, 0) + t.info.numel
        n_tensors = sum(1 for _ in self.iter_tensors())
        return Totals(sum(params_by_dtype.values()), n_tensors, by_dtype, params_by_dtype, tied)

    def _tied_by_config(self, by_name: dict[str, Tensor]) -> dict[str, str]:
        """Output embeddings stored separately but tied by config and equal in value."""
        tie = self.config.tie_word_embeddings if self.config else False
        if not tie:
            return {}
        out: dict[str, str] = {}
        for o in _OUTPUT_EMBEDDINGS:
            for i in _INPUT_EMBEDDINGS:
                a, b = by_name.get(o), by_name.get(i)
                if (
                    a is not None
                    and b is not None
                    and (a.shape, a.dtype) == (b.shape, b.dtype)
                    and a.storage_key != b.storage_key
                    and np.array_equal(a.data(), b.data())
                ):
                    out[o] = i
        return out


def open_artifact(path: str | os.PathLike[str]) -> Artifact:
    """Open a model file or folder for reading; raises ``ArtifactError`` if unreadable."""
    root = Path(path)
    if not root.exists() and not root.is_symlink():
        raise ArtifactError(root, "no such file or directory")
    if root.is_dir():
        return _open_folder(root)
    # A path the caller named is followed; links *inside* a folder are only listed.
    root = root.resolve()
    fmt, detail = _detect(root, root.name)
    size = root.stat().st_size
    files = (ArtifactFile(root.name, size, fmt, detail),)
    art = Artifact(root=root.parent, is_dir=False, files=files, primary_files=())
    _load_weights(art, root.parent, files)
    art.primary_files = tuple(art._tensors)
    return art


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


def _open_folder(root: Path) -> Artifact:
    files: list[ArtifactFile] = []
    for rel, p in _walk(root):
        fmt, detail = _detect(p, rel)
        size = 0 if fmt is FileFormat.SYMLINK else p.stat().st_size
        files.append(ArtifactFile(rel, size, fmt, detail))
    art = Artifact(root=root, is_dir=True, files=tuple(files), primary_files=())
    problems: list[str] = []
    _load_metadata(art, root, problems)
    _load_weights(art, root, art.files)
    art.primary_files = _choose_primary(art, root)
    art.problems = tuple(problems)
    return art


def _load_metadata(art: Artifact, root: Path, problems: list[str]) -> None:
    names = {f.path: f for f in art.files}
    if "config.json" in names and names["config.json"].format is FileFormat.JSON:
        art.config = hfrepo.parse_config(
            hfrepo.load_json(root / "config.json", "config.json"), "config.json"
        )
    art.tokenizer = hfrepo.parse_tokenizer(root, problems)
    card = names.get("README.md")
    if card is not None and card.format in (FileFormat.TEXT, FileFormat.JSON):
        text = (root / "README.md").read_bytes()[: hfrepo.MAX_JSON].decode("utf-8", "replace")
        art.card = hfrepo.parse_card(text, problems)
    if "adapter_config.json" in names:
        raw = hfrepo.load_json(root / "adapter_config.json", "adapter_config.json")
        art.adapter = hfrepo.parse_adapter(raw, "adapter_config.json")


def _load_weights(art: Artifact, root: Path, files: tuple[ArtifactFile, ...]) -> None:
    for f in files:
        p = root / f.path
        if f.format is FileFormat.SAFETENSORS:
            art._tensors[f.path] = list(st_reader.iter_tensors(p, rel=f.path))
        elif f.format is FileFormat.GGUF:
            contents = gguf_reader.read_gguf(p, rel=f.path)
            art._tensors[f.path] = list(gguf_reader.iter_tensors(p, contents))
            if art.gguf_metadata is None:
                art.gguf_metadata = contents.metadata
                if art.tokenizer is None and contents.tokens:
                    art.tokenizer = _gguf_tokenizer(contents)
        elif f.format is FileFormat.PYTORCH_ZIP:
            art._tensors[f.path] = list(
                torchfile.iter_tensors(torchfile.read_torch_zip(p, rel=f.path))
            )
        elif f.format is FileFormat.PYTORCH_LEGACY:
            art._tensors[f.path] = list(
                torchfile.iter_tensors(torchfile.read_torch_legacy(p, rel=f.path))
            )
        elif f.format is FileFormat.NUMPY:
            art._tensors[f.path] = npy_reader.read_npy(p, rel=f.path, name=Path(f.path).stem)
        elif f.format is FileFormat.NUMPY_ZIP:
            art._tensors[f.path] = npy_reader.read_npz(p, rel=f.path)


def _gguf_tokenizer(contents: gguf_reader.GGUFContents) -> hfrepo.TokenizerInfo:
    meta = contents.metadata
    templates = {}
    if isinstance(meta.get("tokenizer.chat_template"), str):
        templates["default"] = meta["tokenizer.chat_template"]
    vocab: dict[str, int] = {}
    for i, tok in enumerate(contents.tokens):
        vocab.setdefault(tok, i)
    return hfrepo.TokenizerInfo(vocab, templates, {}, "gguf")


def _choose_primary(art: Artifact, root: Path) -> tuple[str, ...]:
    fmts = {f.path: f.format for f in art.files if f.path in art._tensors}
    top = [p for p in fmts if "/" not in p] or list(fmts)
    if art.adapter is not None:
        adapters = [p for p in top if Path(p).name.startswith("adapter_model")]
        if adapters:
            return tuple(adapters)
    for fmt in _PRIORITY:
        chosen = [p for p in top if fmts[p] is fmt]
        if not chosen:
            continue
        index = _index_files(root, fmt, chosen)
        if index:
            return index
        if fmt is FileFormat.GGUF:
            return (chosen[0],)  # several GGUFs are usually several quantizations
        return tuple(chosen)
    return ()


def _index_files(root: Path, fmt: FileFormat, chosen: list[str]) -> tuple[str, ...]:
    name = {
        FileFormat.SAFETENSORS: "model.safetensors.index.json",
        FileFormat.PYTORCH_ZIP: "pytorch_model.bin.index.json",
        FileFormat.PYTORCH_LEGACY: "pytorch_model.bin.index.json",
    }.get(fmt)
    if name is None or not (root / name).is_file():
        return ()
    data = hfrepo.load_json(root / name, name)
    wmap = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(wmap, dict) or not all(isinstance(v, str) for v in wmap.values()):
        raise ArtifactError(name, "index has no weight_map of tensor name -> file")
    shards = sorted(set(wmap.values()))
    for s in shards:
        if s not in chosen:
            raise ArtifactError(
                name, f"index names shard {s!r}, which is missing or not {fmt.value}"
            )
    return tuple(shards)
