"""A whole family of tiny models — base, derivatives, independent bases — built once, cached.

``build_family(arch=..., seed=...)`` returns paths to Hugging Face–style folders (and
GGUF files). The cache key covers the builder version, the arguments and the versions of
every library that changes the bytes, so a stale cache is never used; builds go to a
temporary directory renamed into place under a file lock, so concurrent test workers
build each family once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from importlib import metadata
from pathlib import Path

from weightwatch.testing import derive
from weightwatch.testing.models import (
    TrainSpec,
    card,
    deterministic,
    load,
    new_model,
    save,
    save_bin,
    train,
)
from weightwatch.testing.tokenizer import save_tokenizer, train_tokenizer

BUILDER_VERSION = 1
_BUILDER_SOURCES = (
    "corpus.py",
    "tokenizer.py",
    "models.py",
    "derive.py",
    "gguf_export.py",
    "family.py",
)
BASE_STEPS = 150


@dataclass(frozen=True)
class Family:
    """Paths of one tiny model family. ``None`` where the architecture has no such member."""

    root: Path
    arch: str
    tokenizer: Path
    base: Path  # safetensors (save_pretrained)
    base_bin: Path  # the same weights as pytorch_model.bin (zip format)
    base_bin_legacy: Path  # ... and in the legacy (pre-1.6) torch.save format
    finetune: Path
    lora_merged: Path
    lora_adapter: Path
    int8: Path
    int4: Path
    pruned: Path
    merged: Path  # average of the fine-tune and the LoRA-merged model
    independent: Path  # same recipe, another seed: the hard negative
    permuted: Path | None
    gguf_f16: Path | None
    gguf_q8_0: Path | None

    def members(self) -> dict[str, Path]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("root", "arch") and getattr(self, f.name) is not None
        }


def default_cache() -> Path:
    env = os.environ.get("WEIGHTWATCH_FIXTURE_CACHE")
    return Path(env) if env else Path.cwd() / ".cache" / "fixtures"


def cached(cache: Path, key: str, build: Callable[[Path], object]) -> Path:
    """``cache/key``, built once by ``build(folder)`` under a file lock (several test
    processes share the cache), into a temporary folder renamed into place when complete;
    library warnings during the build are silenced."""
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / key
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "COMPLETE").exists():
            tmp = cache / f"{key}.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                build(tmp)
            (tmp / "COMPLETE").write_text("ok\n")
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
    return final


def _cache_key(arch: str, size: str, seed: int) -> str:
    libs = {n: metadata.version(n) for n in ("torch", "transformers", "peft", "tokenizers", "gguf")}
    data_dir = Path(__file__).parent / "data"
    corpus = hashlib.sha256()
    for f in sorted(data_dir.glob("corpus_*.txt")):
        corpus.update(f.read_bytes())
    src = hashlib.sha256()
    for name in _BUILDER_SOURCES:  # the code that decides the bytes of the models
        src.update((Path(__file__).parent / name).read_bytes())
    blob = json.dumps(
        [BUILDER_VERSION, arch, size, seed, libs, corpus.hexdigest(), src.hexdigest()],
        sort_keys=True,
    )
    return f"{arch}-{size}-s{seed}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def build_family(
    *, arch: str = "llama", size: str = "tiny", seed: int = 0, cache: Path | None = None
) -> Family:
    """Build (or reuse from the cache) the family for ``arch``/``size``/``seed``."""
    final = cached(
        cache or default_cache(),
        _cache_key(arch, size, seed),
        lambda tmp: _build(tmp, arch=arch, size=size, seed=seed),
    )
    return _paths(final, arch)


def _paths(root: Path, arch: str) -> Family:
    llama = arch == "llama"
    permutable = arch in ("llama", "qwen2")
    return Family(
        root=root,
        arch=arch,
        tokenizer=root / "tokenizer",
        base=root / "base",
        base_bin=root / "base-bin",
        base_bin_legacy=root / "base-bin-legacy",
        finetune=root / "finetune",
        lora_merged=root / "lora-merged",
        lora_adapter=root / "lora-adapter",
        int8=root / "int8",
        int4=root / "int4",
        pruned=root / "pruned",
        merged=root / "merged",
        independent=root / "independent",
        permuted=root / "permuted" if permutable else None,
        gguf_f16=root / "gguf" / "model-f16.gguf" if llama else None,
        gguf_q8_0=root / "gguf" / "model-q8_0.gguf" if llama else None,
    )


def _build(root: Path, *, arch: str, size: str, seed: int) -> None:
    import transformers

    transformers.utils.logging.disable_progress_bar()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _build_members(root, arch=arch, size=size, seed=seed)


def _build_members(root: Path, *, arch: str, size: str, seed: int) -> None:
    from weightwatch.testing.gguf_export import export_gguf

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    p = _paths(root, arch)
    fast = save_tokenizer(train_tokenizer(vocab_size=_vocab(size)), p.tokenizer)
    name = f"weightwatch-testing/tiny-{arch}-s{seed}"

    def base_model(s: int, domain: str) -> object:
        with deterministic(s):
            m = new_model(arch, size, len(fast), s)
            train(m, fast, TrainSpec(BASE_STEPS, 3e-3, domain, s))
        return m

    base = base_model(seed, "a")
    save(base, fast, p.base, card(name=name))
    save_bin(base, fast, p.base_bin)
    save_bin(base, fast, p.base_bin_legacy, legacy=True)

    def child(model: object, path: Path, relation: str) -> None:
        save(
            model, fast, path, card(name=f"{name}-{path.name}", base_model=name, relation=relation)
        )

    ft = derive.finetune(base, fast, seed=seed + 1)
    child(ft, p.finetune, "finetune")
    lm = derive.lora_merged(base, fast, seed=seed + 2)
    child(lm, p.lora_merged, "finetune")
    derive.lora_adapter(base, fast, p.lora_adapter, base_name=name, seed=seed + 3)
    (p.lora_adapter / "README.md").write_text(
        card(name=f"{name}-lora", base_model=name, relation="adapter")
    )
    child(derive.quantize(base, bits=8), p.int8, "quantized")
    child(derive.quantize(base, bits=4), p.int4, "quantized")
    child(derive.prune(base), p.pruned, "finetune")
    m = derive.merge(ft, lm)
    save(m, fast, p.merged, card(name=f"{name}-merged", base_model=[name], relation="merge"))
    save(base_model(seed + 1000, "a"), fast, p.independent, card(name=f"{name}-independent"))
    if p.permuted is not None:
        child(derive.permute_hidden(base, seed=seed + 4), p.permuted, "finetune")
    if p.gguf_f16 is not None and p.gguf_q8_0 is not None:
        export_gguf(base, p.tokenizer, p.gguf_f16, qtype="F16", name=name)
        export_gguf(base, p.tokenizer, p.gguf_q8_0, qtype="Q8_0", name=name)


def _vocab(size: str) -> int:
    from weightwatch.testing.models import SIZES

    return SIZES[size]["vocab"]


__all__ = ["Family", "build_family", "default_cache", "load"]
