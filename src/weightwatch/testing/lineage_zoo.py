"""A zoo of tiny Llama bases and their derivatives for evaluating lineage detection.

Each base is its own training run (seed and data domain differ); each gets derivatives
covering every transformation the lineage issue names, alone and combined, plus a merge
with the next base (a derivative of both). Built once per key, cached like families.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weightwatch.testing import derive, evasion
from weightwatch.testing.family import _cache_key, default_cache
from weightwatch.testing.models import TrainSpec, card, deterministic, new_model, train
from weightwatch.testing.tokenizer import save_tokenizer, train_tokenizer

ZOO_VERSION = 1
TRANSFORMS = (
    "finetune",
    "lora_merged",
    "int8",
    "int4",
    "pruned",
    "gguf_q8_0",
    "gguf_q4_0",
    "permuted",
    "rotated",
    "rescaled",
    "continued_pretraining",
    "vocab_extended",
    "vocab_trimmed",
    "vocab_shuffled",
    "layer_dropped",
    "ft+int8+permuted",
    "ft+rotated+gguf_q8_0",
    "rescaled+vocab_shuffled+int4",
    "merge_with_next_base",
)


@dataclass(frozen=True)
class Member:
    path: Path
    transform: str  # "base" or one of TRANSFORMS
    parents: tuple[int, ...]  # indices of the bases it derives from


def build_zoo(seeds: tuple[int, ...], *, cache: Path | None = None) -> list[Member]:
    """Bases for ``seeds`` and their derivatives; returns every member (bases first)."""
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    src = hashlib.sha256(Path(__file__).read_bytes() + Path(evasion.__file__).read_bytes())
    key = (
        "zoo-"
        + hashlib.sha256(
            json.dumps(
                [ZOO_VERSION, list(seeds), _cache_key("llama", "tiny", 0), src.hexdigest()]
            ).encode()
        ).hexdigest()[:12]
    )
    final = cache / key
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "members.json").exists():
            tmp = cache / f"{key}.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            import transformers

            transformers.utils.logging.disable_progress_bar()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                members = _build(tmp, seeds)
            (tmp / "members.json").write_text(
                json.dumps(
                    [[str(m.path.relative_to(tmp)), m.transform, list(m.parents)] for m in members]
                )
            )
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
    rows = json.loads((final / "members.json").read_text())
    return [Member(final / p, t, tuple(par)) for p, t, par in rows]


def _save(model: Any, tok_dir: Path, out: Path, readme: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    for f in tok_dir.iterdir():
        if f.is_file():
            shutil.copy(f, out / f.name)
    (out / "README.md").write_text(readme)
    return out


def _build(root: Path, seeds: tuple[int, ...]) -> list[Member]:

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tok_dir = root / "tokenizer"
    fast = save_tokenizer(train_tokenizer(vocab_size=1024), tok_dir)
    bases: list[Any] = []
    members: list[Member] = []
    for k, seed in enumerate(seeds):
        with deterministic(seed):
            m = new_model("llama", "tiny", len(fast), seed)
            train(m, fast, TrainSpec(150, 3e-3, "ab"[k % 2], seed))
        bases.append(m)
        path = _save(m, tok_dir, root / f"base{k}" / "base", card(name=f"zoo/base{k}"))
        members.append(Member(path, "base", (k,)))
    for k in range(len(bases)):
        _derivatives(root / f"base{k}", k, bases, fast, tok_dir, members)
    return members


def _derivatives(
    out: Path, k: int, bases: list[Any], fast: Any, tok_dir: Path, members: list[Member]
) -> None:
    from weightwatch.testing.gguf_export import export_gguf

    base = bases[k]
    s = 1000 * (k + 1)
    readme = card(name=f"zoo/base{k}-derivative")

    def keep(model: Any, name: str, tok: Path = tok_dir, parents: tuple[int, ...] = (k,)) -> None:
        members.append(Member(_save(model, tok, out / name, readme), name, parents))

    def gguf(model: Any, name: str, qtype: str) -> None:
        p = export_gguf(model, tok_dir, out / name / "model.gguf", qtype=qtype, name=name)
        members.append(Member(p, name, (k,)))

    other = "ba"[k % 2]
    ft = derive.finetune(base, fast, seed=s + 1, domain=other)
    keep(ft, "finetune")
    keep(derive.lora_merged(base, fast, seed=s + 2, domain=other), "lora_merged")
    keep(derive.quantize(base, bits=8), "int8")
    keep(derive.quantize(base, bits=4), "int4")
    keep(derive.prune(base), "pruned")
    gguf(base, "gguf_q8_0", "Q8_0")
    gguf(base, "gguf_q4_0", "Q4_0")
    keep(derive.permute_hidden(base, seed=s + 3), "permuted")
    keep(evasion.rotate_hidden(base, seed=s + 4), "rotated")
    keep(evasion.rescale(base, seed=s + 5), "rescaled")
    keep(
        derive.finetune(base, fast, steps=200, lr=5e-4, domain=other, seed=s + 6),
        "continued_pretraining",
    )
    for name, edit in _vocab_edits(s).items():
        tdir = out / f"{name}-tokenizer"
        keep(edit(base, tok_dir, tdir), name, tdir)
    keep(evasion.drop_last_layer(base), "layer_dropped")
    keep(derive.permute_hidden(derive.quantize(ft, bits=8), seed=s + 7), "ft+int8+permuted")
    gguf(evasion.rotate_hidden(ft, seed=s + 8), "ft+rotated+gguf_q8_0", "Q8_0")
    tdir = out / "rsv-tokenizer"
    shuffled = evasion.shuffle_vocab(evasion.rescale(base, seed=s + 9), tok_dir, tdir, seed=s + 10)
    keep(derive.quantize(shuffled, bits=4), "rescaled+vocab_shuffled+int4", tdir)
    nxt = (k + 1) % len(bases)
    if nxt != k:
        keep(derive.merge(base, bases[nxt]), "merge_with_next_base", parents=(k, nxt))


def _vocab_edits(s: int) -> dict[str, Callable[[Any, Path, Path], Any]]:
    return {
        "vocab_extended": lambda b, t, o: evasion.extend_vocab(b, t, o, seed=s + 11),
        "vocab_trimmed": lambda b, t, o: evasion.trim_vocab(b, t, o),
        "vocab_shuffled": lambda b, t, o: evasion.shuffle_vocab(b, t, o, seed=s + 12),
    }


def build_population(
    arch: str, seeds: tuple[int, ...], *, cache: Path | None = None
) -> list[Member]:
    """Independent bases of ``arch`` (one per seed, alternating data), each with a fine-tune
    (and for Llama a layer-dropped copy, whose single aligned layer varies most).

    Cheaper than a zoo: enough unrelated pairs to fit a null for one model class.
    """
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    src = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    key = (
        f"pop-{arch}-"
        + hashlib.sha256(
            json.dumps([ZOO_VERSION, list(seeds), _cache_key(arch, "tiny", 0), src]).encode()
        ).hexdigest()[:12]
    )
    final = cache / key
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "members.json").exists():
            tmp = cache / f"{key}.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tok_dir = tmp / "tokenizer"
                fast = save_tokenizer(train_tokenizer(vocab_size=1024), tok_dir)
                members: list[Member] = []
                for k, seed in enumerate(seeds):
                    with deterministic(seed):
                        m = new_model(arch, "tiny", len(fast), seed)
                        train(m, fast, TrainSpec(150, 3e-3, "ab"[k % 2], seed))
                    readme = card(name=f"pop/{arch}{k}")
                    members.append(
                        Member(_save(m, tok_dir, tmp / f"base{k}", readme), "base", (k,))
                    )
                    ft = derive.finetune(m, fast, seed=seed + 1, domain="ba"[k % 2])
                    members.append(
                        Member(_save(ft, tok_dir, tmp / f"ft{k}", readme), "finetune", (k,))
                    )
                    if arch == "llama":
                        path = _save(evasion.drop_last_layer(m), tok_dir, tmp / f"drop{k}", readme)
                        members.append(Member(path, "layer_dropped", (k,)))
            (tmp / "members.json").write_text(
                json.dumps(
                    [[str(m.path.relative_to(tmp)), m.transform, list(m.parents)] for m in members]
                )
            )
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
    rows = json.loads((final / "members.json").read_text())
    return [Member(final / p, t, tuple(par)) for p, t, par in rows]
