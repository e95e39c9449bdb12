"""The public API is exactly what docs/audit.md describes, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import weightwatch.audit as audit


def test_all_names_exist() -> None:
    for name in audit.__all__:
        assert hasattr(audit, name), name
    assert len(set(audit.__all__)) == len(audit.__all__)


def test_import_does_not_pull_heavy_backends() -> None:
    code = (
        "import sys, weightwatch.audit\n"
        "heavy = [m for m in ('torch', 'transformers', 'scipy') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
