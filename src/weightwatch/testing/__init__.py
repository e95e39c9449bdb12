"""Tiny real-architecture model families for tests, benchmarks and the demo.

Everything is built locally and deterministically (no hub): a byte-level BPE tokenizer
trained on shipped licence-clean text, small Llama / GPT-2 / Qwen2 models trained for a
few seconds, and their derivatives (fine-tune, LoRA merged and unmerged, int8/int4,
pruned, merged, hidden-unit permuted, GGUF F16 and Q8_0) plus an independent base.
Needs the ``[hf]`` extra (torch, transformers, peft, tokenizers).
"""

import logging

from weightwatch.testing.family import Family, build_family, default_cache

# peft imports bitsandbytes when it is installed (the dev extra has it, to write real
# 4/8-bit layouts), and on CPU bitsandbytes asks the hub for an optional kernel: offline,
# as everything here runs, it logs two warnings on every build. Nothing is fetched and
# nothing is missing for our use, so keep them out of `make serve` and the tests' output.
for _name in ("bitsandbytes", "kernels"):
    logging.getLogger(_name).setLevel(logging.ERROR)

__all__ = ["Family", "build_family", "default_cache"]
