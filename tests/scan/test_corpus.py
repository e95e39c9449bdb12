"""The labelled corpus: every technique flagged high or critical, no benign file flagged,
and scanning all of it triggers no process, no exec and no import named by the files."""

from __future__ import annotations

import sys

import pytest

from weightwatch.scan import Severity, scan_paths
from weightwatch.testing.scan_corpus import build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def _high(path) -> bool:
    return any(f.severity >= Severity.HIGH for f in scan_paths([path]).findings())


def test_corpus_is_large_and_cited(corpus):
    mal = [e for e in corpus if e.malicious]
    assert len(mal) >= 40 and len({e.technique for e in mal}) == len(mal)
    assert all(e.source for e in mal)
    assert len([e for e in corpus if not e.malicious]) >= 25


def test_every_technique_detected_and_no_false_positive(corpus):
    missed = [e.name for e in corpus if e.malicious and not _high(e.path)]
    false_pos = [e.name for e in corpus if not e.malicious and _high(e.path)]
    assert missed == [] and false_pos == []


def test_scanning_the_corpus_executes_nothing(corpus):
    named = {
        "trace",
        "profile",
        "cProfile",
        "pdb",
        "bdb",
        "timeit",
        "doctest",
        "idlelib",
        "lib2to3",
        "pip",
        "ensurepip",
        "venv",
        "runpy",
        "uuid",
        "pkgutil",
        "asyncio",
        "http",
        "numpy.f2py",
        "torch.utils.bottleneck",
        "ww_evil_mod",
        "subprocess",
        "pty",
    }
    events: list[tuple[str, str]] = []
    state = {"on": False}

    def hook(event: str, args: tuple) -> None:
        if not state["on"]:
            return
        if event == "compile" and sys._getframe(1).f_code.co_filename.endswith("ast.py"):
            return  # ast.parse: an AST of a shipped .py file, never bytecode
        if event in (
            "os.system",
            "subprocess.Popen",
            "os.posix_spawn",
            "os.exec",
            "os.fork",
            "exec",
            "compile",
        ) or event.startswith(("os.exec", "os.spawn")):
            events.append((event, ""))
        elif event == "import":
            events.append((event, str(args[0])))

    sys.addaudithook(hook)
    paths = [e.path for e in corpus]
    state["on"] = True
    try:
        scan_paths(paths)  # first pass: lazy imports of our own modules are allowed
    finally:
        state["on"] = False
    content_imports = [
        m for e, m in events if e == "import" and (m in named or m.split(".")[0] in named)
    ]
    assert content_imports == []
    events.clear()
    state["on"] = True
    try:
        scan_paths(paths)  # second pass: nothing at all may happen
    finally:
        state["on"] = False
    assert events == []
