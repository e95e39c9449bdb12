"""GaussMark's one-pass statistic under the null, across keys, on the real SmolLM2-135M.

One human text (CPython docstrings, piece 501) under 300 fresh keys: psi must be N(0, 1)
whatever the text, since each key's noise is independent of it. Needs the float32 folder
that ``durability_real.py`` writes (WW_REAL_WORK, default /tmp/ww-wm-real). Prints the
mean, the standard deviation and the KS p against N(0, 1).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from scipy import stats  # type: ignore[import-untyped]

from weightwatch.testing import wm_eval as ev
from weightwatch.watermark import MasterSecret
from weightwatch.watermark.gaussmark import GaussMark
from weightwatch.watermark.outputgrad import output_statistics
from weightwatch.watermark.weightio import load_reference

KEYS = 300
WORK = Path(os.environ.get("WW_REAL_WORK", "/tmp/ww-wm-real"))


def main() -> None:
    torch.set_num_threads(2)
    ref = load_reference(WORK / "smollm2-f32", scheme=GaussMark.from_params(sigma=0.07))
    text = ev.human_texts(ref.tokenizer, 1, skip=500)[0].tolist()
    master = MasterSecret(bytes(range(32)))
    psi: list[float] = []
    for lo in range(0, KEYS, 10):  # 10 keys' noise (28 M normals each) in memory at a time
        keys = [master.derive(f"nullcheck-{i}", scheme="gaussmark") for i in range(lo, lo + 10)]
        psi += [float(v) for v in output_statistics(ref, [text], keys)[0]]
    x = np.asarray(psi)
    print(
        f"{x.size} keys: mean {x.mean():.4f}, sd {x.std():.3f}, KS p {stats.kstest(x, 'norm').pvalue:.2f}"
    )


if __name__ == "__main__":
    main()
