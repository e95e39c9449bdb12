"""GaussMark (Block, Rakhlin, Sekhari, ICML 2025): a keyed Gaussian change of the weights.

Embedding adds ``xi = std * z`` to chosen weight matrices, ``z`` standard normal drawn
from a generator seeded by the key and the tensor's name, ``std = sigma * rms(W)`` (one
relative scale for every matrix, so the same ``sigma`` means the same thing in any
model). Which matrices are marked by default, and why, is said below.

Detection, for text ``y`` and the *original* weights ``theta``: ``g`` is the gradient of
``log p_theta(y)`` with respect to the marked matrices, and

    psi = <xi, g> / sqrt(sum_i std_i^2 * |g_i|^2).

Under the null hypothesis (``y`` does not depend on the key) ``g`` is a fixed vector
given ``y`` and ``z`` is independent standard normal, so ``psi`` is exactly N(0, 1); the
p-value ``P(N(0,1) >= psi)`` is exact. Text sampled from ``theta + xi`` leans towards
directions where ``<xi, g>`` is positive, so ``psi`` grows like the square root of the
number of tokens.

Which matrices and what scale: by default the output projection (``lm_head``, or the
tied input embedding where a model has no separate one). The statistic's mean under the
alternative is about ``sqrt(2 n KL)`` for ``n`` tokens and a per-token divergence ``KL``
between the marked and the original model, whatever matrices carry the noise — so the
choice is about durability and cost per parameter: on our tiny models the same signal
costs far less perplexity in ``lm_head`` than in the MLPs (whose noise the next layers
partly wash out), LoRA recipes leave ``lm_head`` alone, and its rows are quantized one
by one with steps well below the noise. ``sigma = 0.6`` buys TPR ~0.9 at FPR 1e-3 with
200 tokens on the tiny models at a perplexity cost of about 6%; docs/watermark.md
has the whole trade-off curve. What is assumed: the generator's normals are independent standard
normals (a statistical, not a cryptographic, property of NumPy's PCG64 with a 256-bit
seed), and the gradient is taken at weights that do not depend on the key (the original
model, or the marked one minus ``xi`` — equal to the original up to float rounding).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field
from scipy import special  # type: ignore[import-untyped]  # no stubs installed

from weightwatch.errors import UsageError
from weightwatch.watermark.keys import WatermarkKey
from weightwatch.watermark.scheme import SchemeParams
from weightwatch.watermark.weightscheme import F32, PerturbationScheme

_SEED_PREFIX = b"weightwatch/gaussmark/v1\x00"
_LAYER = re.compile(r"\.(?:layers|h|blocks)\.(\d+)\.")
DEFAULT_TARGETS = ("lm_head",)
_BLOCK = 1 << 22  # weights drawn per call when marking in place
#: where a model ties its output matrix to the input embedding (Qwen2, GPT-2, Gemma)
TIED_OUTPUT = ("embed_tokens", "wte")


class GaussMarkParams(SchemeParams):
    sigma: float = Field(0.6, gt=0.0, le=2.0, description="noise std relative to each matrix's RMS")
    targets: tuple[str, ...] = Field(
        DEFAULT_TARGETS, min_length=1, description="suffixes of the matrices to mark"
    )
    layers: tuple[int, ...] | None = Field(None, description="layer indices (None: all)")


def z_p_value(psi: float) -> tuple[float, float]:
    """``P(N(0,1) >= psi)`` and its log10, finite far into the tail."""
    log_p = float(special.log_ndtr(-psi))
    return math.exp(log_p), log_p / math.log(10.0)


class GaussMark(PerturbationScheme):
    name: ClassVar[str] = "gaussmark"
    params_model: ClassVar[type[SchemeParams]] = GaussMarkParams
    params: GaussMarkParams

    def select(self, shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
        wanted = set(self.params.layers) if self.params.layers is not None else None
        chosen = []
        for name, shape in shapes.items():
            stem = _stem(name)
            if len(shape) != 2 or stem == name or not stem.endswith(self.params.targets):
                continue
            m = _LAYER.search(name)
            if wanted is not None and (m is None or int(m.group(1)) not in wanted):
                continue
            chosen.append(name)
        if not chosen and self.params.targets == DEFAULT_TARGETS:
            chosen = [
                n for n, sh in shapes.items() if len(sh) == 2 and _stem(n).endswith(TIED_OUTPUT)
            ]
        if not chosen:
            two_d = sorted(n for n, s in shapes.items() if len(s) == 2)[:8]
            raise UsageError(
                f"no weight matrix matches targets {list(self.params.targets)}"
                + (f" in layers {sorted(wanted)}" if wanted is not None else ""),
                hint=f"choose --param targets among the model's matrices, e.g. {two_d}",
            )
        return sorted(chosen)

    def unit_noise(self, key: WatermarkKey, name: str, shape: tuple[int, ...]) -> F32:
        """The key's standard-normal draw for one tensor (the same on every machine)."""
        self.check_key(key)
        digest = hashlib.sha256(_SEED_PREFIX + key.material + name.encode()).digest()
        rng = np.random.Generator(np.random.PCG64(int.from_bytes(digest, "little")))
        return rng.standard_normal(shape, dtype=np.float32)

    def add_noise_(self, key: WatermarkKey, name: str, w: F32, rms: float) -> float:
        """Add the mark to ``w`` in place and return its std; bit-identical to
        ``w + perturbation(...)`` but drawn in blocks of rows, so a 1B model's 263 M-weight
        output matrix needs no full-size noise array (PCG64's draws do not depend on how
        they are split into calls)."""
        self.check_key(key)
        if w.dtype != np.float32 or not w.flags.c_contiguous:
            raise UsageError(f"tensor {name} must be C-contiguous float32 to be marked in place")
        std = self.noise_std(name, rms)
        scale = np.float32(std)
        digest = hashlib.sha256(_SEED_PREFIX + key.material + name.encode()).digest()
        rng = np.random.Generator(np.random.PCG64(int.from_bytes(digest, "little")))
        rows = w.reshape(w.shape[0], -1) if w.ndim > 1 else w.reshape(-1, 1)
        step = max(1, _BLOCK // max(1, rows.shape[1]))
        for lo in range(0, rows.shape[0], step):
            block = rows[lo : lo + step]
            block += rng.standard_normal(block.shape, dtype=np.float32) * scale
        return std

    def noise_std(self, name: str, rms: float) -> float:
        """The mark's standard deviation on a tensor whose root-mean-square is ``rms``."""
        if not math.isfinite(rms) or rms <= 0.0:
            raise UsageError(f"tensor {name} is all zeros or not finite: cannot scale a mark")
        return self.params.sigma * rms

    def perturbation(
        self, key: WatermarkKey, name: str, shape: tuple[int, ...], rms: float
    ) -> tuple[F32, float]:
        std = self.noise_std(name, rms)
        return (self.unit_noise(key, name, shape) * np.float32(std)).astype(np.float32), std

    def statistic(
        self,
        grads: Mapping[str, npt.NDArray[np.floating]],
        stds: Mapping[str, float],
        keys: Iterable[WatermarkKey],
    ) -> list[float]:
        """``psi`` of every key for one gradient (each exactly N(0, 1) under the null).

        For distinct keys the ``psi`` are independent given the text (their noises are),
        which makes the maximum over recipients' keys exactly testable.
        """
        return [float(x) for x in self.statistics([grads], stds, keys)[0]]

    def statistics(
        self,
        grads: Sequence[Mapping[str, npt.NDArray[np.floating]]],
        stds: Mapping[str, float],
        keys: Iterable[WatermarkKey],
    ) -> npt.NDArray[np.float64]:
        """``psi`` for many gradients (rows) and keys (columns); each key's noise is drawn
        once for all the gradients."""
        if not grads:
            raise UsageError("no gradient to test")
        names = sorted(grads[0])
        flat = {
            n: np.stack([np.asarray(g[n], dtype=np.float32).ravel() for g in grads]) for n in names
        }
        den = np.sqrt(
            sum(
                stds[n] ** 2 * np.einsum("ij,ij->i", f.astype(np.float64), f)
                for n, f in flat.items()
            )
        )
        key_list = list(keys)
        num = np.zeros((len(grads), len(key_list)))
        for j, key in enumerate(key_list):
            for n, f in flat.items():
                z = self.unit_noise(key, n, tuple(np.shape(grads[0][n]))).ravel()
                num[:, j] += stds[n] * (f @ z).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(den[:, None] > 0, num / den[:, None], 0.0)
        return np.asarray(out, dtype=np.float64)


def _stem(name: str) -> str:
    return name.removesuffix(".weight")


WEIGHT_SCHEMES = (GaussMark,)

__all__ = ["DEFAULT_TARGETS", "WEIGHT_SCHEMES", "GaussMark", "GaussMarkParams", "z_p_value"]
