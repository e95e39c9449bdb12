"""The ``weightwatch`` command: parse, call the library, render.

The CLI holds no logic the library lacks. Every command maps its outcome to one table
of exit codes (``docs/cli.md``): 0 ok, 1 a finding or verdict the user asked to fail
on, 2 usage or input error, 3 environment or service error, 130 interrupted — always
with one line naming the file and the problem, never a traceback.

Commands live in ``*_cmd`` modules, each with ``register(app)``; ``COMMANDS`` below is
the one list of them (name → module, one-line summary), so the CLI imports a command's
module only when it runs. A new command is a new module plus one entry here.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typer.core import TyperGroup as Group

# In the order ``weightwatch --help`` lists them. The summary is the first line of the
# command's help (tests/cli/test_conventions.py checks they agree).
COMMANDS: dict[str, tuple[str, str]] = {
    "inspect": ("inspect_cmd", "List files, formats, tensors, parameters, dtypes and metadata."),
    "hash": ("hash_cmd", "Digest every file and compute the weights and value digests."),
    "keygen": ("attest_cmd", "Create a signing key pair."),
    "sign": ("attest_cmd", "Hash PATH and write a signed bundle."),
    "verify": ("attest_cmd", "Check a signed bundle offline: a model's files, or an audit."),
    "log": ("log_cmd", "Transparency log: offline verification of entries."),
    "scan": ("scan_cmd", "Find code execution hidden in model files (runs nothing)."),
    "fingerprint": ("lineage_cmd", "Fingerprint a model from its weights alone (no inference)."),
    "lineage": ("lineage_cmd", "Is PATH derived from a known model? Exit 1 when derived."),
    "registry": ("registry_cmd", "Create and maintain a registry."),
    "register": ("registry_cmd", "Register a model folder or file as a new version."),
    "status": ("registry_cmd", "A registered version: status, decision, lineage, history."),
    "lineage-tree": ("registry_cmd", "Every known descendant of a version."),
    "takedown": ("registry_cmd", "Take a version down, log it, re-decide its descendants."),
    "reinstate": ("registry_cmd", "Undo a takedown (logged) and re-decide."),
    "release": ("registry_cmd", "Release a quarantined version after review (logged)."),
    "recall": ("recall_cmd", "Everyone who downloaded a version or any of its descendants."),
    "policy": ("policy_cmd", "Check a model against a policy."),
    "serve": ("serve_cmd", "Serve the registry over HTTP: web UI, JSON API, Hub downloads."),
    "audit": ("audit_cmd", "Red-team safety audits."),
    "watermark": ("watermark_cmd", "Usage watermarking: keys, generation, detection."),
    "witness": ("witness_cmd", "A transparency-log witness (C2SP tlog-witness)."),
    "diff": ("diff_cmd", "What was done to a derivative's weights: LoRA, abliteration, ..."),
    "bom": (
        "bom_cmd",
        "AI-BOM (CycloneDX 1.6 or SPDX 3.0.1) with lineage from weights.",
    ),
    "bom-verify": (
        "bom_cmd",
        "Check a BOM's detached signature and its schema validity.",
    ),
    "oci": ("oci_cmd", "OCI distribution: push and verified pull."),
}


def build_app() -> Group:
    """A new root command with every command attached (imported on first use)."""
    from weightwatch.cli.lazy import create_app

    return create_app(COMMANDS)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cancels like Ctrl-C: work in progress rolls back


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command; map every outcome to the exit-code table."""
    previous = None
    try:
        try:
            previous = signal.signal(signal.SIGTERM, _terminate)
        except ValueError:  # not the main thread: leave signals alone
            previous = None
        from weightwatch.cli.run import run

        return run(build_app, sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        print("weightwatch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI itself failed to start: still one line
        print(f"weightwatch: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


__all__ = ["COMMANDS", "build_app", "main"]
