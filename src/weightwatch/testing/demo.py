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


SEED = (  # registered in this order: the base first, so derivatives can be traced to it
    "llama-base",
    "llama-finetune",
    "llama-lora-merged",
    "llama-base-q8_0.gguf",
    "llama-permuted",
    "llama-merged",
    "llama-independent",
)


def seed_registry(root: Path, links: dict[str, Path]) -> None:
    """Register the demo family in a registry at ``root`` (once; later runs reuse it)."""
    from weightwatch.errors import RegistryError
    from weightwatch.registry import Registry

    reg = Registry.open(root, init=True)
    try:
        for label in SEED:
            name = "demo/" + label.removesuffix(".gguf").replace(".", "-")
            try:
                reg.status(name)
                continue
            except RegistryError:
                pass
            view = reg.register(links[label], name)
            print(f"registered {view.model}: {view.status}")
    finally:
        reg.close()


def main(argv: list[str]) -> int:
    args = list(argv)
    registry = None
    if "--registry" in args:
        i = args.index("--registry")
        registry = Path(args[i + 1])
        del args[i : i + 2]
    out = Path(args[0] if args else "var/demo")
    out.mkdir(parents=True, exist_ok=True)
    links = build_demo(out)
    for label in sorted(links):
        print(out / label)
    if registry is not None:
        seed_registry(registry, links)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
