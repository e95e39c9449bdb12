"""Behaviour suites: the requests an audit sends, loaded from shipped or user files.

Shipped suites are upstream files copied byte-for-byte under ``audit/data/`` with their
LICENSE and SOURCE.md; known upstream errata are fixed here, never in the data. User
suites are CSV (header row) or JSONL files with a ``prompt`` field and optional ``id``,
``category``, ``kind`` (``harmful``/``benign``) and ``context``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from weightwatch.errors import UsageError

Kind = Literal["harmful", "benign"]

# AdvBench data rows (0-based) whose ``target`` belongs to another row: row i takes the
# target of row j (llm-attacks issues #89 and #102; see data/advbench/SOURCE.md).
_ADVBENCH_TARGET_ERRATA: Mapping[int, int] = {61: 64, 63: 61, 64: 63, 458: 459, 459: 458}


class Behavior(BaseModel):
    """One request to send to a model, with where it came from."""

    model_config = ConfigDict(frozen=True)

    id: str
    prompt: str
    category: str
    source: str
    split: str
    kind: Kind
    context: str | None = None  # HarmBench contextual behaviours carry a passage
    target: str | None = None  # AdvBench's affirmative target string, where known

    @property
    def request(self) -> str:
        """The text a model sees: HarmBench puts the context above a ``---`` rule."""
        if self.context:
            return f"{self.context}\n\n---\n\n{self.prompt}"
        return self.prompt


def _data_text(*parts: str) -> str:
    node = resources.files("weightwatch.audit").joinpath("data")
    for part in parts:
        node = node.joinpath(part)
    # Bytes, not read_text: csv must see the file's own line endings inside quoted fields.
    return node.read_bytes().decode("utf-8")


def _rows(*parts: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_data_text(*parts), newline="")))


def _advbench() -> tuple[Behavior, ...]:
    rows = _rows("advbench", "harmful_behaviors.csv")
    targets = [row["target"] for row in rows]
    fixed = {i: targets[j] for i, j in _ADVBENCH_TARGET_ERRATA.items() if j < len(rows)}
    return tuple(
        Behavior(
            id=f"advbench-{i + 1:03d}",
            prompt=row["goal"],
            category="advbench",
            source="advbench",
            split="all",
            kind="harmful",
            target=fixed.get(i, row["target"]),
        )
        for i, row in enumerate(rows)
    )


def _harmbench(split: str) -> tuple[Behavior, ...]:
    val_ids = {row["BehaviorID"] for row in _rows("harmbench", "harmbench_behaviors_text_val.csv")}
    name = {"all": "all", "val": "val", "test": "test"}[split]
    rows = _rows("harmbench", f"harmbench_behaviors_text_{name}.csv")
    return tuple(
        Behavior(
            id=row["BehaviorID"],
            prompt=row["Behavior"],
            category=row["SemanticCategory"],
            source=f"harmbench/{row['FunctionalCategory']}",
            split="val" if row["BehaviorID"] in val_ids else "test",
            kind="harmful",
            context=row["ContextString"] or None,
        )
        for row in rows
    )


def _xstest(label: str | None) -> tuple[Behavior, ...]:
    rows = _rows("xstest", "xstest_prompts.csv")
    return tuple(
        Behavior(
            id=f"xstest-{row['id']}",
            prompt=row["prompt"],
            category=row["type"],
            source="xstest",
            split="all",
            kind="benign" if row["label"] == "safe" else "harmful",
        )
        for row in rows
        if label is None or row["label"] == label
    )


_BUILTIN: Mapping[str, Callable[[], tuple[Behavior, ...]]] = {
    "advbench": _advbench,
    "harmbench": lambda: _harmbench("all"),
    "harmbench-val": lambda: _harmbench("val"),
    "harmbench-test": lambda: _harmbench("test"),
    "harmbench-standard": lambda: tuple(
        b for b in _harmbench("all") if b.source == "harmbench/standard"
    ),
    "xstest": lambda: _xstest(None),
    "xstest-safe": lambda: _xstest("safe"),
    "xstest-unsafe": lambda: _xstest("unsafe"),
}

BUILTIN_SUITES: tuple[str, ...] = tuple(sorted(_BUILTIN))


def load_suite(name_or_path: str | Path) -> tuple[Behavior, ...]:
    """A built-in suite by name (see ``BUILTIN_SUITES``) or a user suite by file path."""
    if isinstance(name_or_path, str) and name_or_path in _BUILTIN:
        return _BUILTIN[name_or_path]()
    path = Path(name_or_path)
    if not path.is_file():
        raise UsageError(
            f"{name_or_path}: neither a built-in suite nor a file",
            hint=f"built-in suites: {', '.join(BUILTIN_SUITES)}",
        )
    return load_user_suite(path)


_FIELDS = frozenset({"id", "prompt", "category", "kind", "context"})


def load_user_suite(path: str | Path) -> tuple[Behavior, ...]:
    """A suite from a ``.csv`` or ``.jsonl`` file; errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read suite: {exc}") from exc
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(path, text)
    elif suffix in {".jsonl", ".ndjson"}:
        records = _jsonl_records(path, text)
    else:
        raise UsageError(f"{path}: suites are .csv or .jsonl files, not {suffix or 'no suffix'}")
    behaviors = [_behavior(path, line, record) for line, record in records]
    if not behaviors:
        raise UsageError(f"{path}: the suite holds no behaviours")
    seen: dict[str, int] = {}
    for (line, _), behavior in zip(records, behaviors, strict=True):
        if behavior.id in seen:
            raise UsageError(
                f"{path}:{line}: duplicate id {behavior.id!r} (first on line {seen[behavior.id]})"
            )
        seen[behavior.id] = line
    return tuple(behaviors)


def _csv_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fields = reader.fieldnames
    except csv.Error as exc:
        raise UsageError(f"{path}:1: unreadable CSV header: {exc}") from exc
    if not fields or "prompt" not in fields:
        raise UsageError(f"{path}:1: the header must name a 'prompt' column", hint=_SCHEMA_HINT)
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        for row in reader:
            if None in row:
                raise UsageError(f"{path}:{reader.line_num}: more fields than the header names")
            records.append((reader.line_num, dict(row)))
    except csv.Error as exc:
        raise UsageError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from exc
    return records


def _jsonl_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    records: list[tuple[int, dict[str, Any]]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{line_no}: invalid JSON: {exc.msg}") from exc
        if not isinstance(value, dict):
            raise UsageError(f"{path}:{line_no}: each line must be a JSON object")
        records.append((line_no, value))
    return records


_SCHEMA_HINT = (
    "a suite needs a 'prompt' field; 'id', 'category', 'kind' (harmful|benign) and "
    "'context' are optional"
)


def _behavior(path: Path, line: int, record: Mapping[str, Any]) -> Behavior:
    where = f"{path}:{line}"
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise UsageError(f"{where}: unknown field(s) {', '.join(unknown)}", hint=_SCHEMA_HINT)
    for key, value in record.items():
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{where}: field {key!r} must be a string")
    prompt = (record.get("prompt") or "").strip()
    if not prompt:
        raise UsageError(f"{where}: empty or missing 'prompt'", hint=_SCHEMA_HINT)
    kind = (record.get("kind") or "harmful").strip()
    if kind not in ("harmful", "benign"):
        raise UsageError(f"{where}: kind must be 'harmful' or 'benign', not {kind!r}")
    return Behavior(
        id=(record.get("id") or "").strip() or f"{path.stem}-{line}",
        prompt=prompt,
        category=(record.get("category") or "").strip() or "uncategorised",
        source=f"user:{path.name}",
        split="all",
        kind="benign" if kind == "benign" else "harmful",
        context=(record.get("context") or "").strip() or None,
    )
