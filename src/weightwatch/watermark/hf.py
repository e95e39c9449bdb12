"""The generation hook: any scheme as a transformers logits processor.

Pass ``WatermarkLogitsProcessor(scheme, key)`` in ``model.generate(logits_processor=[...])``.
It runs before generate's own temperature/top-k/top-p warpers, on every row of the batch
at once. With ``top_k`` set it hashes only each row's top-k candidates and masks the
rest (-inf), so the cost per step does not grow with the vocabulary. Sampler schemes
(Gumbel) return 0 for the chosen token and -inf elsewhere: use greedy decoding, or any
sampling setting, the chosen token is the only one left. Reweight schemes (tournament)
return the distribution to sample from: sample at temperature 1 with no top-k/top-p
after it. torch is imported lazily.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from weightwatch.errors import UsageError
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.scheme import WatermarkScheme


class WatermarkLogitsProcessor:
    """A transformers ``LogitsProcessor`` applying ``scheme`` with ``key``."""

    def __init__(
        self, scheme: WatermarkScheme, key: WatermarkKey, *, top_k: int | None = None
    ) -> None:
        scheme.check_key(key)
        if top_k is not None and top_k < 1:
            raise UsageError("top_k must be at least 1")
        self.scheme = scheme
        self.key = key
        self.top_k = top_k

    def __repr__(self) -> str:
        name, kid = self.scheme.name, self.key.key_id
        return f"WatermarkLogitsProcessor({name}, key_id={kid!r}, top_k={self.top_k})"

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        context = input_ids.detach().cpu().numpy().astype(np.int64, copy=False)
        batch, vocab = scores.shape
        if self.top_k is not None and self.top_k < vocab:
            values, index = torch.topk(scores.detach(), self.top_k, dim=-1)
            cand_ids = index.cpu().numpy().astype(np.int64, copy=False)
            cand_logits = values.float().cpu().numpy()
            new = self.scheme.process_logits(context, cand_ids, cand_logits, self.key)
            out = torch.full_like(scores, float("-inf"))
            out.scatter_(
                1, index, torch.from_numpy(new).to(dtype=scores.dtype, device=scores.device)
            )
            return out
        cand_ids = np.broadcast_to(np.arange(vocab, dtype=np.int64), (batch, vocab))
        cand_logits = scores.detach().float().cpu().numpy()
        new = self.scheme.process_logits(context, cand_ids, cand_logits, self.key)
        return torch.from_numpy(new).to(dtype=scores.dtype, device=scores.device)


__all__ = ["WatermarkLogitsProcessor"]
