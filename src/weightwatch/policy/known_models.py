"""Published training-token counts of well-known open-weight models, by name.

Used only when neither the card, the config nor the GGUF metadata declares the tokens:
the compute estimate then says which entry it took and from where. Each figure is the
model's *pretraining* token count as its developers published it (post-training is small
beside it for these models); a name matches when every word of the pattern appears in
the model's own name (GGUF ``general.basename``/``size_label``/``name``, card
``model_name``, config ``_name_or_path``), so "SmolLM2-135M-Instruct" finds "smollm2 135m".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# (words that must all appear, tokens, where the figure is published)
KNOWN_TOKENS: tuple[tuple[tuple[str, ...], float, str], ...] = (
    (("smollm2", "135m"), 2e12, "SmolLM2 model card (HuggingFaceTB): 2T tokens"),
    (("smollm2", "360m"), 4e12, "SmolLM2 model card (HuggingFaceTB): 4T tokens"),
    (("smollm2", "1.7"), 11e12, "SmolLM2 model card (HuggingFaceTB): 11T tokens"),
    (("gemma", "3", "270m"), 6e12, "Gemma 3 270M model card (Google): 6T tokens"),
    (("gemma", "3", "1b"), 2e12, "Gemma 3 model card (Google): 1B trained on 2T tokens"),
    (("gemma", "3", "4b"), 4e12, "Gemma 3 model card (Google): 4B trained on 4T tokens"),
    (("gemma", "3", "12b"), 12e12, "Gemma 3 model card (Google): 12B trained on 12T tokens"),
    (("gemma", "3", "27b"), 14e12, "Gemma 3 model card (Google): 27B trained on 14T tokens"),
)
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")


def _words(text: str) -> set[str]:
    """Lower-case words; digits split from letters ("gemma3" -> "gemma", "3")."""
    out: set[str] = set()
    for w in _WORD.findall(text.lower()):
        out.add(w)
        out.update(re.findall(r"[a-z]+|[0-9]+(?:\.[0-9]+)?[a-z]*", w))
    return out


def known_tokens(names: Iterable[str]) -> tuple[float, str] | None:
    """(tokens, "known-model table: <source>") for the first name the table knows."""
    for name in names:
        words = _words(name)
        for pattern, tokens, source in KNOWN_TOKENS:
            if all(p in words for p in pattern):
                return tokens, f"known-model table ({name!r}): {source}"
    return None
