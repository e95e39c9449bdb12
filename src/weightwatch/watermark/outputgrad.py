"""GaussMark's statistic from one forward pass: the output matrix's gradient, never formed.

For the output matrix ``W`` (vocabulary x hidden) the gradient of ``log p(y)`` is
``G = sum_t (e_{y_t} - p_t) h_t^T`` with ``h_t`` the final hidden state and ``p_t`` the
next-token distribution at position ``t``. So, with ``A = E - P`` (T x V) and ``H``
(T x hidden), for the key's unit noise ``z``:

    <z, G>  = sum(A * (H z^T))            |G|^2 = sum((A A^T) * (H H^T))

No backward pass and no V x hidden gradient per text: the cost is about one forward pass
(the ``H z^T`` product is the size of the logits). Where the marked matrix is only the
output projection (an untied ``lm_head``) this is exactly the statistic of
``GaussMark.statistics`` on the full gradient (tests/watermark check it). Where the output
matrix is tied to the input embedding (SmolLM2, Qwen2, Gemma) it is the output-side part
of that gradient: still an exact N(0, 1) under the null — ``G`` depends on the text and
the reference weights only, never on the key — but it ignores the evidence the mark
leaves through the input embedding, so its power can be lower than the full gradient's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from weightwatch.errors import UsageError
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.weightio import LoadedReference

F64 = npt.NDArray[np.float64]


def output_matrix_name(ref: LoadedReference) -> str:
    """The marked tensor that is the model's output projection (an error if none is)."""
    out = ref.model.get_output_embeddings()
    params = dict(ref.model.named_parameters())
    for name in ref.names:
        if params[name] is out.weight:
            return name
    raise UsageError(
        f"the marked matrices {ref.names[:3]} do not include the output projection",
        hint="the one-pass statistic covers marks on lm_head (or a tied embedding) only",
    )


def output_statistics(
    ref: LoadedReference,
    texts: Sequence[Sequence[int]],
    keys: Sequence[WatermarkKey],
    *,
    batch: int = 8,
) -> F64:
    """``psi`` of each text (rows) for each key (columns), N(0, 1) under the null.

    Texts in one batch must have the same length (they are not padded).
    """
    import torch

    if not texts or not keys:
        raise UsageError("no text or no key to test")
    name = output_matrix_name(ref)
    model = ref.model
    weight = model.get_output_embeddings().weight
    vocab, std = int(weight.shape[0]), float(ref.stds[name])
    zs = [torch.from_numpy(ref.scheme.unit_noise(k, name, tuple(weight.shape))) for k in keys]
    bos = ref.tokenizer.bos_token_id
    prefix = [int(bos)] if bos is not None else []
    out = np.zeros((len(texts), len(keys)))
    with torch.no_grad():
        for lo in range(0, len(texts), batch):
            group = [prefix + [int(t) for t in text] for text in texts[lo : lo + batch]]
            if len({len(g) for g in group}) != 1:
                raise UsageError("texts in one batch must have the same number of tokens")
            ids = torch.tensor(group, dtype=torch.long)
            if int(ids.min()) < 0 or int(ids.max()) >= vocab:
                raise UsageError(f"token ids must lie in [0, {vocab}) for this model")
            hidden = _final_hidden(model, ids)[:, :-1].float()  # (B, T, d)
            logits = hidden @ weight.float().T
            a = -torch.softmax(logits, dim=-1)
            a.scatter_add_(-1, ids[:, 1:, None], torch.ones_like(ids[:, 1:, None], dtype=a.dtype))
            gram_a = a @ a.transpose(1, 2)
            gram_h = hidden @ hidden.transpose(1, 2)
            norm = (gram_a * gram_h).sum(dim=(1, 2)).double().sqrt()
            for j, z in enumerate(zs):
                num = (a * (hidden @ z.T)).sum(dim=(1, 2)).double()
                psi = torch.where(norm > 0, num / norm.clamp(min=1e-300), torch.zeros_like(num))
                out[lo : lo + len(group), j] = psi.numpy()
            del logits, a
    _ = std  # one matrix: its std cancels between numerator and denominator
    return out


def _final_hidden(model: Any, ids: Any) -> Any:
    """The hidden states the output projection reads (after the final norm)."""
    decoder = model.get_decoder()
    return decoder(input_ids=ids).last_hidden_state


__all__ = ["output_matrix_name", "output_statistics"]
