"""Python files shipped with a model (``trust_remote_code``): what they import and call.

Parsed with ``ast`` only — never imported or compiled to bytecode.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from weightwatch.scan import rules
from weightwatch.scan.findings import Finding, Location

DANGEROUS_MODULES = frozenset(
    {
        "os",
        "subprocess",
        "socket",
        "ctypes",
        "pty",
        "shutil",
        "urllib",
        "requests",
        "httpx",
        "http",
        "ftplib",
        "smtplib",
        "pickle",
        "marshal",
        "importlib",
        "runpy",
        "multiprocessing",
        "asyncio.subprocess",
        "webbrowser",
        "base64",
        "codecs",
        "sys",
    }
)
DANGEROUS_CALLS = frozenset(
    {"eval", "exec", "compile", "__import__", "getattr", "setattr", "open", "breakpoint"}
)


def analyze_python(text: str, location: Location, *, loaded: bool = True) -> Iterator[Finding]:
    """Findings for a Python file; ``loaded`` False (no loader imports it, see
    ``scan.code_refs``) gives one informational finding listing what it would use."""
    if not loaded:
        yield _not_loaded(text, location)
        return
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        yield rules.REMOTE_CODE.finding(
            location, f"Python file that does not parse ({exc}); it cannot be reviewed"
        )
        return
    imports: set[str] = set()
    calls: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.add(node.module)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.add(node.func.id)
    risky = sorted(
        m for m in imports if m in DANGEROUS_MODULES or m.split(".")[0] in DANGEROUS_MODULES
    )
    risky_calls = sorted(calls & DANGEROUS_CALLS)
    summary = f"imports {', '.join(sorted(imports)) or 'nothing'}"
    yield rules.REMOTE_CODE.finding(location, summary, imports=sorted(imports))
    if risky or risky_calls:
        what = ", ".join([*risky, *(f"{c}()" for c in risky_calls)])
        yield rules.REMOTE_CODE_DANGEROUS.finding(
            location, f"uses {what}", modules=risky, calls=risky_calls
        )


def _not_loaded(text: str, location: Location) -> Finding:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return rules.CODE_NOT_LOADED.finding(
            location, f"no loader runs it; it does not parse ({exc})"
        )
    imports = sorted(
        {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    )
    return rules.CODE_NOT_LOADED.finding(
        location,
        f"no loader runs it; it imports {', '.join(imports) or 'nothing'}",
        imports=imports,
    )


def analyze_auto_map(config: dict[str, object], location: Location) -> Iterator[Finding]:
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict) and auto_map:
        refs = sorted(
            {
                str(v) if not isinstance(v, list) else ",".join(map(str, v))
                for v in auto_map.values()
            }
        )
        remote = [r for r in refs if "--" in r]
        where = f" (code from other repositories: {', '.join(remote)[:200]})" if remote else ""
        yield rules.REMOTE_CODE.finding(
            location,
            f"config auto_map points at custom code: {', '.join(refs)[:300]}{where}",
            auto_map=refs,
        )
