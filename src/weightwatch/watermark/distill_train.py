"""Training for the distillation mark (``distill``), and writing the marked folder.

Logit-based watermark distillation (Gu et al., ICLR 2024, section 3.1): training text is
sampled from the original model itself (temperature 1, from BOS, no processor), so no
corpus is needed and the student is pulled towards the teacher on the text the model
actually writes; at every position the teacher is the frozen original's logits plus
``delta`` on the key's green list after the previous token(s); the loss is the KL
divergence from teacher to student, summed over the vocabulary and averaged over
positions; every parameter is trained (AdamW, constant learning rate). The trained
weights are written in the original's safetensors layout (same files, names and
dtypes); everything else is copied. torch/transformers are imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.errors import ArtifactError, UsageError
from weightwatch.watermark.distill import DistillMark
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.weightscheme import MarkedTensor, WeightMarkRecord

Progress = Callable[[int, float], None]


def sample_texts(model: Any, count: int, *, tokens: int, seed: int, batch: int = 32) -> Any:
    """``count`` sequences (BOS + ``tokens``) sampled from ``model`` at temperature 1."""
    import torch

    bos = model.config.bos_token_id
    bos = 0 if bos is None else int(bos)
    gen = torch.Generator().manual_seed(seed)
    rows: list[Any] = []
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    with torch.no_grad():
        while sum(r.shape[0] for r in rows) < count:
            n = min(batch, count - sum(r.shape[0] for r in rows))
            prompt = torch.full((n, 1), bos, dtype=torch.long)
            out = model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                do_sample=True,
                top_k=0,
                top_p=1.0,
                temperature=1.0,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                pad_token_id=bos,
            )
            rows.append(out)
    return torch.cat(rows)


def distill(
    model: Any,
    scheme: DistillMark,
    key: WatermarkKey,
    *,
    texts: Any | None = None,
    progress: Progress | None = None,
) -> list[float]:
    """Train ``model`` in place to carry the key's mark; returns the loss per step.

    ``texts`` (a (N, T) long tensor, each row starting with BOS) defaults to
    ``scheme.params.texts`` sequences sampled from the model before training.
    """
    import torch

    p = scheme.params
    scheme.check_key(key)
    teacher = _frozen_copy(model)
    if texts is None:
        texts = sample_texts(teacher, p.texts, tokens=p.seq_len, seed=p.seed)
    if texts.ndim != 2 or texts.shape[1] <= p.context_width:
        raise UsageError("training texts must be (N, T) token ids with T > context_width")
    vocab = int(model.config.vocab_size)
    rng = np.random.default_rng(p.seed)
    greens = GreenLists(scheme, key, vocab)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=p.lr, weight_decay=0.0)
    model.train()
    losses: list[float] = []
    for step in range(p.steps):
        rows = torch.from_numpy(rng.choice(texts.shape[0], size=min(p.batch, texts.shape[0])))
        ids = texts[rows]
        with torch.no_grad():
            target = teacher(input_ids=ids).logits.float()
            target[greens.mask(ids)] += p.delta
            target = torch.log_softmax(target, dim=-1)
        logp = torch.log_softmax(model(input_ids=ids).logits.float(), dim=-1)
        # positions before context_width tokens exist have no green list: not trained
        start = p.context_width - 1
        kl = torch.nn.functional.kl_div(
            logp[:, start:], target[:, start:], log_target=True, reduction="none"
        ).sum(-1)
        loss: Any = kl.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step, losses[-1])
    model.eval()
    return losses


def _frozen_copy(model: Any) -> Any:
    import copy

    teacher = copy.deepcopy(model)
    teacher.eval()
    for q in teacher.parameters():
        q.requires_grad_(False)
    return teacher


def _packed_width(vocab: int) -> int:
    """Bytes of one green list packed as bits."""
    return (vocab + 7) // 8


class GreenLists:
    """The key's green lists for training, each context's computed once.

    A green list is a keyed hash of (context, candidate) over the whole vocabulary: on
    SmolLM2 (49,152 tokens) the distinct contexts of one 16 x 129 batch took 3.9 s to
    compute (2 threads, 2026-12-07), against about 9 s for a whole training step of
    8 x 128, although the same previous tokens recur in every batch. Rows are kept as
    packed bits (vocab / 8 bytes each) up to ``budget`` bytes; beyond that, new contexts
    are computed and not kept.

    Memory of a step's mask: with the teacher's log-probabilities, the student's logits
    and log-probabilities and the KL terms, a step holds about 17 bytes per (sequence,
    position, vocabulary entry): lower ``batch`` or ``seq_len`` for large vocabularies
    (16 x 128 x 49,152 is about 1.7 GB).
    """

    def __init__(
        self, scheme: DistillMark, key: WatermarkKey, vocab: int, *, budget: int = 256 << 20
    ) -> None:
        self.scheme, self.key, self.vocab, self.budget = scheme, key, vocab, budget
        self._rows: dict[bytes, npt.NDArray[np.uint8]] = {}

    @property
    def kept(self) -> int:
        """How many contexts' green lists are kept."""
        return len(self._rows)

    def mask(self, ids: Any) -> Any:
        """(B, T, V) bool mask: green after the ``context_width`` tokens ending at each t."""
        import torch

        h = self.scheme.params.context_width
        arr = ids.numpy()
        b, t = arr.shape
        ctx = np.zeros((b, t, h), dtype=np.int64)
        for j in range(h):  # column j: the token h-1-j places before t (clipped at 0)
            shift = h - 1 - j
            ctx[:, shift:, j] = arr[:, : t - shift]
        uniq, inverse = np.unique(ctx.reshape(-1, h), axis=0, return_inverse=True)
        names = [row.tobytes() for row in uniq]
        missing = [i for i, n in enumerate(names) if n not in self._rows]
        fresh: dict[bytes, npt.NDArray[np.uint8]] = {}
        if missing:
            rows = self.scheme.green_rows(uniq[missing], self.vocab, self.key)
            for i, row in zip(missing, np.packbits(rows, axis=1), strict=True):
                fresh[names[i]] = row
            room = max(0, self.budget // _packed_width(self.vocab) - len(self._rows))
            self._rows.update(list(fresh.items())[:room])
        packed = np.stack([self._rows[n] if n in self._rows else fresh[n] for n in names])
        green = np.unpackbits(packed, axis=1, count=self.vocab).astype(bool)
        return torch.from_numpy(green[inverse.reshape(-1)].reshape(b, t, self.vocab))


def _green(scheme: DistillMark, key: WatermarkKey, ids: Any, vocab: int) -> Any:
    """One batch's (B, T, V) green mask, with no lists kept between calls."""
    return GreenLists(scheme, key, vocab).mask(ids)


def embed_distilled(
    src: Path, dst: Path, *, scheme: DistillMark, key: WatermarkKey, progress: Progress | None
) -> WeightMarkRecord:
    """Train a copy of the model in ``src`` and write it to ``dst`` with its record."""
    import torch

    from weightwatch.watermark.generation import load_model
    from weightwatch.watermark.weightfolder import rewrite_folder, weight_files

    files = weight_files(src)
    model, _ = load_model(src)
    model.float()
    torch.manual_seed(scheme.params.seed)
    distill(model, scheme, key, progress=progress)
    state = {n: t.detach() for n, t in model.state_dict().items()}

    def take_trained(f: Path, tensors: dict[str, Any]) -> list[MarkedTensor]:
        changed: list[MarkedTensor] = []
        for name, old in tensors.items():
            if name not in state or tuple(state[name].shape) != tuple(old.shape):
                raise ArtifactError(f, f"tensor {name} is not a parameter of the loaded model")
            new = state[name].to(old.dtype).contiguous()
            diff = (new.float() - old.float()).square().mean().sqrt()
            if float(diff) > 0.0:
                changed.append(MarkedTensor(name=name, shape=tuple(old.shape), std=float(diff)))
            tensors[name] = new
        return changed

    return rewrite_folder(src, dst, files, take_trained, scheme=scheme, key=key)


__all__ = ["GreenLists", "distill", "embed_distilled", "sample_texts"]
