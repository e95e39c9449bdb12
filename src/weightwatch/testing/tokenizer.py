"""A byte-level BPE tokenizer trained locally with ``tokenizers`` (no hub download)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weightwatch.testing.corpus import text

SPECIALS = ("<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>")
# A minimal chat template in the usual Jinja dialect, so chat-style code paths
# (audits, template scanning) have something real to read.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|endoftext|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def train_tokenizer(*, vocab_size: int = 1024, domains: tuple[str, ...] = ("a", "b")) -> Any:
    """Train a byte-level BPE; deterministic for the same corpus and vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text(d) for d in domains], trainer=trainer)
    return tok


def save_tokenizer(tok: Any, out_dir: Path) -> Any:
    """Save as a Hugging Face tokenizer folder; returns the ``PreTrainedTokenizerFast``."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)
    return fast
