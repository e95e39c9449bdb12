"""Run the ``console`` blocks of a Markdown document and check their output's shape.

A block is a sequence of ``$ command`` lines, each followed by the output it printed.
Each command runs with ``bash`` in a scratch directory, in document order, so later
commands see earlier ones' files. The expected output is compared line by line after
normalising what depends on the machine or the run: hex digests and key ids, decimal
numbers (scores, p-values, sizes), passwords, tokens and timings. A line ``...`` (or one
that starts with ``...`` followed by a comment) stands for any number of lines;
without one, the output must have exactly the expected lines.

A block preceded by ``<!-- doctest: skip REASON -->`` is not run (services, browsers,
hand-made samples); commands that talk to a server (``make``, ``curl``, ``HF_ENDPOINT``)
are never run.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SKIP_PREFIXES = ("make ", "curl ", "HF_ENDPOINT=", "TOKEN=")
_HEX = re.compile(r"\b[0-9a-f]{8,}\b…?")
_NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")
_SECRET = re.compile(r"(password: |\s)[A-Za-z0-9_-]{12,}$")
_SPACE = re.compile(r"\s+")


@dataclass
class Command:
    line: int
    text: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int
    commands: list[Command]
    skip: str | None


def blocks(doc: str) -> list[Block]:
    """The document's ``console`` blocks, in order."""
    out: list[Block] = []
    lines = doc.splitlines()
    i = 0
    skip: str | None = None
    while i < len(lines):
        mark = re.match(r"<!-- doctest: skip (.*?) -->", lines[i].strip())
        if mark:
            skip = mark.group(1)
        if lines[i].strip() == "```console":
            start, cmds = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                if lines[i].startswith("$ "):
                    text, first = lines[i][2:], i + 1
                    while text.endswith("\\") and i + 1 < len(lines):
                        i += 1
                        text = text[:-1].rstrip() + " " + lines[i].strip()
                    cmds.append(Command(first, text))
                elif cmds:
                    cmds[-1].expected.append(lines[i])
                i += 1
            out.append(Block(start, cmds, skip))
            skip = None
        elif lines[i].strip() and not mark:
            skip = None if not lines[i].startswith("<!--") else skip
        i += 1
    return out


def normalise(line: str) -> str:
    line = line.replace("│", " ").replace("┃", " ").rstrip()
    line = _HEX.sub("<hex>", line)
    line = _SECRET.sub(r"\1<secret>", line)
    line = _NUM.sub("<n>", line)
    return _SPACE.sub(" ", line).strip()


def _elision(line: str) -> bool:
    return line.strip().startswith("...")


def mismatch(expected: list[str], actual: list[str]) -> str | None:
    """Why ``actual`` does not have ``expected``'s shape, or None."""
    want = [normalise(x) for x in expected if x.strip()]
    elided = any(_elision(x) for x in expected)
    got = [normalise(x) for x in actual if x.strip()]
    if not elided:
        return None if want == got else f"expected {want}\n   got {got}"
    pos = 0
    for w in want:
        if w.startswith("..."):
            continue
        while pos < len(got) and got[pos] != w:
            pos += 1
        if pos == len(got):
            return f"line not found in order: {w!r}\n   got {got}"
        pos += 1
    return None


def run_document(doc: Path, cwd: Path, env: dict[str, str]) -> list[str]:
    """Run every block of ``doc`` in ``cwd``; the list of failures (empty when it holds)."""
    failures: list[str] = []
    rc = 0
    for block in blocks(doc.read_text()):
        if block.skip is not None:
            continue
        for cmd in block.commands:
            where = f"{doc.name}:{cmd.line}: $ {cmd.text}"
            if cmd.text.startswith(SKIP_PREFIXES) or "HF_ENDPOINT" in cmd.text:
                continue
            if cmd.text.strip() == "echo $?":
                if [str(rc)] != [x.strip() for x in cmd.expected if x.strip()]:
                    failures.append(f"{where}: exit code was {rc}")
                continue
            text = cmd.text.split("  #", 1)[0]
            done = subprocess.run(
                ["bash", "-c", text],
                cwd=cwd,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            rc = done.returncode
            if os.environ.get("WEIGHTWATCH_DOCTEST_SHOW"):  # to update a document by hand
                print(f"$ {cmd.text}\n{done.stdout}{done.stderr}", end="")
            why = mismatch(cmd.expected, (done.stdout + done.stderr).splitlines())
            if why is not None:
                failures.append(f"{where}\n   {why}")
    return failures
