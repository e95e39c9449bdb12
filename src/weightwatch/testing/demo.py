"""Build the demo model family: ``python -m weightwatch.testing.demo DIR``.

Links each member of a tiny Llama family under ``DIR`` with a readable name
(``llama-base``, ``llama-finetune``, ``llama-base-q8_0.gguf``, ...) so the README's
commands have something real to work on.
"""

from __future__ import annotations

import sys
from pathlib import Path

from weightwatch.testing.family import build_family


def build_demo(out: Path) -> dict[str, Path]:
    family = build_family(arch="llama", seed=0, cache=out / ".cache")
    links: dict[str, Path] = {}
    for name, target in family.members().items():
        label = "llama-" + name.replace("_", "-")
        if name == "gguf_f16":
            label = "llama-base-f16.gguf"
        elif name == "gguf_q8_0":
            label = "llama-base-q8_0.gguf"
        link = out / label
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target.resolve())
        links[label] = link
    return links


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "var/demo")
    out.mkdir(parents=True, exist_ok=True)
    for label in sorted(build_demo(out)):
        print(out / label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
