"""The sampling-time watermark schemes as a vLLM (v1 engine) logits processor.

vLLM's v1 engine loads logits processors by class (``LLM(logits_processors=[cls])`` or
``vllm serve --logits-processors weightwatch.watermark.vllm_processor:WatermarkProcessor``)
and builds one per engine. ``WatermarkProcessor`` is a vLLM ``AdapterLogitsProcessor``:
for every request it applies :func:`watermark_row` — the same ``scheme.process_logits``
that the transformers processor (``watermark.hf``) calls, over the prompt and the tokens
generated so far — so both engines mark text identically and ``weightwatch watermark
detect`` reads it (``tests/vectors/`` pins that bit for bit).

The server operator configures it through the environment (keys never travel in
requests): ``WEIGHTWATCH_WATERMARK_MASTER`` (master secret file),
``WEIGHTWATCH_WATERMARK_DEPLOYMENT`` (deployment name the key is derived for),
``WEIGHTWATCH_WATERMARK_SCHEME`` (default ``kgw``) and ``WEIGHTWATCH_WATERMARK_PARAMS``
(JSON, e.g. ``{"gamma": 0.25, "delta": 2.0}``). A request opts out only if the operator
allows it (``WEIGHTWATCH_WATERMARK_OPTOUT=1``) and it sets ``extra_args={"watermark":
false}``. vLLM and torch are imported only when vLLM asks for the class, so this module
imports in any environment (the scheme registry imports every module of the package).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from weightwatch.errors import UsageError
from weightwatch.watermark.keys import MasterSecret, WatermarkKey
from weightwatch.watermark.scheme import WatermarkScheme, get_scheme

ENV_MASTER = "WEIGHTWATCH_WATERMARK_MASTER"
ENV_DEPLOYMENT = "WEIGHTWATCH_WATERMARK_DEPLOYMENT"
ENV_SCHEME = "WEIGHTWATCH_WATERMARK_SCHEME"
ENV_PARAMS = "WEIGHTWATCH_WATERMARK_PARAMS"
ENV_OPTOUT = "WEIGHTWATCH_WATERMARK_OPTOUT"


def config_from_env(env: dict[str, str] | None = None) -> tuple[WatermarkScheme, WatermarkKey]:
    """The scheme and key a serving process was configured with; ``UsageError`` if not."""
    env = dict(os.environ) if env is None else env
    master, deployment = env.get(ENV_MASTER), env.get(ENV_DEPLOYMENT)
    if not master or not deployment:
        raise UsageError(f"the vLLM watermark needs {ENV_MASTER} and {ENV_DEPLOYMENT} set")
    name = env.get(ENV_SCHEME, "kgw")
    try:
        params = json.loads(env.get(ENV_PARAMS) or "{}")
    except ValueError as exc:
        raise UsageError(f"{ENV_PARAMS} is not JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise UsageError(f"{ENV_PARAMS} must be a JSON object")
    scheme = get_scheme(name, **params)
    if scheme.kind != "bias":
        raise UsageError(
            f"scheme {name!r} picks or reweights tokens ({scheme.kind}); in vLLM use a bias "
            "scheme (kgw, kgw-hf), whose logits vLLM's own sampler then samples from"
        )
    key = MasterSecret.load(master).derive(deployment, scheme=name)
    return scheme, key


def watermark_row(
    scheme: WatermarkScheme,
    key: WatermarkKey,
    prompt_ids: Sequence[int],
    output_ids: Sequence[int],
    logits: Any,
) -> Any:
    """One request's next-token logits (a 1-D torch tensor) with the watermark applied,
    exactly as ``watermark.hf.WatermarkLogitsProcessor`` does for a batch row."""
    import torch

    context = np.asarray([*prompt_ids, *output_ids], dtype=np.int64)[None, :]
    vocab = int(logits.shape[-1])
    cand_ids = np.arange(vocab, dtype=np.int64)[None, :]
    cand_logits = logits.detach().float().cpu().numpy()[None, :]
    new = scheme.process_logits(context, cand_ids, cand_logits, key)[0]
    return torch.from_numpy(np.ascontiguousarray(new)).to(dtype=logits.dtype, device=logits.device)


def _build() -> type:
    from vllm.v1.sample.logits_processor import (  # type: ignore[import-not-found]
        AdapterLogitsProcessor,
    )

    class WatermarkProcessor(AdapterLogitsProcessor):  # type: ignore[misc]
        """vLLM v1 logits processor adding the configured watermark to every request."""

        def __init__(self, vllm_config: Any, device: Any, is_pin_memory: bool) -> None:
            super().__init__(vllm_config, device, is_pin_memory)
            self.scheme, self.key = config_from_env()
            self.optout = os.environ.get(ENV_OPTOUT) == "1"

        def is_argmax_invariant(self) -> bool:
            return False  # the bias moves green tokens, so greedy decoding changes too

        def new_req_logits_processor(self, params: Any) -> Any:
            extra = getattr(params, "extra_args", None) or {}
            if self.optout and extra.get("watermark") is False:
                return None
            scheme, key = self.scheme, self.key

            def apply(prompt_ids: list[int], output_ids: list[int], logits: Any) -> Any:
                return watermark_row(scheme, key, prompt_ids, output_ids, logits)

            return apply

    WatermarkProcessor.__module__ = __name__
    WatermarkProcessor.__qualname__ = "WatermarkProcessor"
    return WatermarkProcessor


_CACHE: dict[str, type] = {}


def __getattr__(name: str) -> type:
    """``WatermarkProcessor`` is built (importing vLLM) the first time it is asked for."""
    if name == "WatermarkProcessor":
        if name not in _CACHE:
            _CACHE[name] = _build()
        return _CACHE[name]
    raise AttributeError(name)


__all__ = ["config_from_env", "watermark_row"]
