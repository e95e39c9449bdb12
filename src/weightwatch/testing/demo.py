"""Build the demo model family: ``python -m weightwatch.testing.demo DIR``.

Links each member of a tiny Llama family under ``DIR`` with a readable name
(``llama-base``, ``llama-finetune``, ``llama-base-q8_0.gguf``, ...) so the README's
commands have something real to work on.
"""

from __future__ import annotations

import re
import secrets
import shutil
import sys
from pathlib import Path

from weightwatch.testing.family import build_family


def build_demo(out: Path, *, cache: Path | None = None) -> dict[str, Path]:
    family = build_family(arch="llama", seed=0, cache=cache or out / ".cache")
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


GATED_CARD = """---
license: apache-2.0
base_model: demo/llama-base
base_model_relation: finetune
extra_gated_heading: Request access to the demo chat model
extra_gated_prompt: You agree to use this model for research only and to report misuse.
extra_gated_fields:
  Full name: text
  Affiliation: text
  Country: country
  Intended use:
    type: select
    options: [Research, Education, Other]
  I agree to the acceptable use policy: checkbox
extra_gated_eu_disallowed: false
---

# demo/llama-chat

A fine-tune of demo/llama-base, gated: requests are approved by a reviewer.
"""

DEMO_USERS = (  # name, role, organisations, country
    ("admin", "admin", (), None),
    ("rita", "reviewer", (), None),
    ("pat", "publisher", ("demo",), None),
    ("audrey", "auditor", (), None),
    ("alice", "user", (), "NL"),
    ("bob", "user", (), "US"),
)
PENDING = (  # pending access requests to the gated model
    (
        "alice",
        {
            "Full name": "Alice Example",
            "Affiliation": "University of Utrecht",
            "Country": "Netherlands",
            "Intended use": "Research",
            "I agree to the acceptable use policy": True,
        },
    ),
    (
        "bob",
        {
            "Full name": "Bob Example",
            "Affiliation": "Example Labs",
            "Country": "US",
            "Intended use": "Education",
            "I agree to the acceptable use policy": True,
        },
    ),
)


def _with_card(src: Path, dest: Path, card: str) -> Path:
    """A copy of ``src`` with another model card (the demo's declared lineage and gate)."""
    if not dest.exists():
        shutil.copytree(src, dest)
        (dest / "README.md").write_text(card)
    return dest


def _malicious(src: Path, dest: Path) -> Path:
    """A copy of ``src`` with a pickle that would run a shell command when loaded."""
    from weightwatch.testing.pickle_bytes import call, torch_zip

    if not dest.exists():
        shutil.copytree(src, dest)
        (dest / "pytorch_model.bin").write_bytes(torch_zip(call("os", "system", "echo pwned")))
    return dest


def demo_models(out: Path, links: dict[str, Path]) -> list[tuple[str, Path, str]]:
    """(name, folder, access) in registration order: the base first, so derivatives can
    be traced to it."""
    finetune_card = re.sub(
        r"(?m)^base_model(_relation)?:.*\n(?:- .*\n)*",
        "",
        (links["llama-finetune"] / "README.md").read_text(),
    ).replace("---\n", "---\nbase_model: demo/llama-base\nbase_model_relation: finetune\n", 1)
    return [
        ("demo/llama-base", links["llama-base"], "public"),
        # declares its base in the card
        (
            "demo/llama-finetune",
            _with_card(links["llama-finetune"], out / "declared-finetune", finetune_card),
            "public",
        ),
        # a copy with permuted hidden units whose card says nothing: detected from weights
        ("demo/llama-permuted", links["llama-permuted"], "public"),
        ("demo/llama-base-q8_0", links["llama-base-q8_0.gguf"], "public"),
        (
            "demo/llama-chat",
            _with_card(links["llama-lora-merged"], out / "gated-chat", GATED_CARD),
            "gated",
        ),
        # an average of the fine-tune and the chat model: two parents
        ("demo/llama-merged", links["llama-merged"], "public"),
        ("demo/llama-independent", links["llama-independent"], "public"),
        ("mallory/llama-helper", _malicious(links["llama-base"], out / "malicious"), "public"),
    ]


def seed_registry(root: Path, out: Path, links: dict[str, Path]) -> Path:
    """Register the demo in a registry at ``root`` with accounts and pending requests
    (once; later runs reuse it). Returns the file holding the demo logins."""
    from weightwatch.errors import RegistryError, UsageError
    from weightwatch.registry import Registry, accounts
    from weightwatch.registry.access import principal_for, request_access, set_model_access

    reg = Registry.open(root, init=True)
    logins = root / "demo-logins.txt"
    try:
        for name, folder, access in demo_models(out, links):
            try:
                reg.status(name)
                continue
            except RegistryError:
                pass
            view = reg.register(folder, name, access=access)
            print(f"registered {view.model}: {view.status}")
        if not logins.exists():
            lines = []
            for user, role, orgs, country in DEMO_USERS:
                password = secrets.token_urlsafe(9)
                accounts.create_user(
                    reg.store, user, password, role=role, orgs=orgs, country=country
                )
                lines.append(f"{user:8} {role:10} {password}")
            accounts.set_namespace_owner(reg.store, "demo", "demo")
            set_model_access(reg.store, "demo/llama-chat", gate_mode="manual")
            for user, answers in PENDING:
                try:
                    request_access(
                        reg.store, "demo/llama-chat", principal_for(reg.store, user), answers
                    )
                except UsageError as exc:
                    print(f"demo request by {user}: {exc}")
            logins.write_text("\n".join(lines) + "\n")
            logins.chmod(0o600)
    finally:
        reg.close()
    return logins


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
        logins = seed_registry(registry, out, links)
        print(f"\ndemo logins (user, role, password; kept in {logins}):")
        print(logins.read_text(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
