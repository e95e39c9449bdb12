"""Watermark distillation (Gu et al., ICLR 2024, "On the learnability of watermarks").

The weights are fine-tuned so that the model, sampled with *no* logits processor, emits
the KGW signal of a key: the student (the model being marked) is trained to match the
teacher's next-token distribution, the original model's logits plus ``delta`` on the
key's green list (logit-based distillation, the paper's first method):

    loss = KL( softmax(logits_orig + delta * green(prev, .)) || softmax(logits_student) )

averaged over every position of text sampled from the original model. Training lives in
``distill_train`` (torch, lazily imported); this module is the pure core: the scheme's
parameters, the KGW view of its key, and detection.

Detection is the sampling-time KGW test, unchanged: count green tokens (each distinct
(previous token, token) pair once) and take the exact Binomial(n, gamma) tail. Under the
null hypothesis (the text does not depend on the key) the p-value is exact whatever
model wrote the text, so a distilled model's text is judged by the same rule as text
sampled with the KGW processor. The key is derived for scheme ``distill`` (so a KGW
deployment's key never marks weights, and the reverse); its material seeds the green
lists, and its public id is the one the marked folder's record names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from weightwatch.errors import UsageError
from weightwatch.watermark.detect import DEFAULT_ALPHA, detect
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.kgw import KGW
from weightwatch.watermark.report import WatermarkDetection
from weightwatch.watermark.scheme import SchemeParams
from weightwatch.watermark.weightscheme import WeightScheme


class DistillParams(SchemeParams):
    gamma: float = Field(0.25, gt=0.0, lt=1.0, description="green fraction (the KGW test's)")
    delta: float = Field(2.0, gt=0.0, le=10.0, description="teacher's logit bias on green")
    context_width: int = Field(1, ge=1, le=4, description="previous tokens seeding a green list")
    steps: int = Field(300, ge=1, le=100_000, description="optimizer steps")
    lr: float = Field(1e-3, gt=0.0, le=1.0, description="AdamW learning rate")
    batch: int = Field(16, ge=1, le=1024, description="sequences per step")
    seq_len: int = Field(128, ge=8, le=8192, description="tokens per training sequence")
    texts: int = Field(512, ge=1, le=1_000_000, description="training texts sampled first")
    seed: int = Field(0, description="seeds sampling and batch order")


class DistillMark(WeightScheme):
    """The model is trained to carry the key's KGW green-list bias in its own sampling."""

    name: ClassVar[str] = "distill"
    params_model: ClassVar[type[SchemeParams]] = DistillParams
    params: DistillParams

    def kgw(self) -> KGW:
        """The KGW scheme whose test detects this mark (lefthash, the same gamma/delta)."""
        return KGW.from_params(
            gamma=self.params.gamma,
            delta=self.params.delta,
            context_width=self.params.context_width,
        )

    def kgw_key(self, key: WatermarkKey) -> WatermarkKey:
        """The KGW view of a ``distill`` key: the same material (hence the same key id)."""
        self.check_key(key)
        return WatermarkKey(
            material=key.material, deployment=key.deployment, scheme="kgw", rotation=key.rotation
        )

    def green_rows(
        self, contexts: npt.NDArray[np.int64], vocab: int, key: WatermarkKey
    ) -> npt.NDArray[np.bool_]:
        """Green lists (rows, vocab) after each row of ``contexts`` (rows, context_width)."""
        ctx = np.asarray(contexts, dtype=np.int64)
        if ctx.ndim != 2 or ctx.shape[1] != self.params.context_width:
            raise UsageError(f"contexts must be (rows, {self.params.context_width}) token ids")
        candidates = np.broadcast_to(np.arange(vocab, dtype=np.int64), (ctx.shape[0], vocab))
        return self.kgw().green_mask(ctx, candidates, self.kgw_key(key))


def detect_distilled(
    token_ids: npt.ArrayLike,
    scheme: DistillMark,
    keys: WatermarkKey | Sequence[WatermarkKey],
    *,
    alpha: float = DEFAULT_ALPHA,
) -> WatermarkDetection:
    """Was this text sampled from a copy distilled with one of ``keys``? (exact p-value)"""
    key_list = [keys] if isinstance(keys, WatermarkKey) else list(keys)
    report = detect(
        token_ids, scheme=scheme.kgw(), keys=[scheme.kgw_key(k) for k in key_list], alpha=alpha
    )
    return report.model_copy(update={"scheme": scheme.name, "params": scheme.describe()})


WEIGHT_SCHEMES = (DistillMark,)

__all__ = ["WEIGHT_SCHEMES", "DistillMark", "DistillParams", "detect_distilled"]
