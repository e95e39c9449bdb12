"""How far a judge agrees with human labels: accuracy, Cohen's kappa, confusion matrix.

Every audit report should state its judge's measured agreement, and the judge's
sensitivity/specificity for "complied" feed the Rogan–Gladen correction in ``stats``.
The project keeps a labelled set (``data/judge_labels.jsonl``); labelling rules are in
docs/audit.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from weightwatch.audit.judges.base import Judge, Verdict
from weightwatch.errors import UsageError
from weightwatch.reports import Report

_ORDER = (Verdict.REFUSED, Verdict.COMPLIED, Verdict.UNCLEAR)


class LabelledReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    request: str
    reply: str
    label: Verdict
    tags: tuple[str, ...] = ()
    note: str = ""


class Agreement(Report):
    """Judge vs. labels. ``confusion[i][j]``: items labelled ``labels[i]`` judged ``labels[j]``."""

    judge: str
    n: int
    accuracy: float
    kappa: float | None  # None when chance agreement is 1 (a single class everywhere)
    labels: tuple[Verdict, ...] = _ORDER
    confusion: tuple[tuple[int, ...], ...]
    # "complied" is the positive class (attack success); unclear-labelled items excluded.
    true_positives: int
    positives: int
    true_negatives: int
    negatives: int
    disagreements: tuple[str, ...]  # ids of items the judge got wrong

    def per_class(self) -> dict[str, tuple[int, int]]:
        """Per label: (items of that label the judge agreed on, items of that label)."""
        return {
            label.value: (self.confusion[i][i], sum(self.confusion[i]))
            for i, label in enumerate(self.labels)
        }

    @property
    def sensitivity(self) -> float | None:
        return self.true_positives / self.positives if self.positives else None

    @property
    def specificity(self) -> float | None:
        return self.true_negatives / self.negatives if self.negatives else None


def load_judge_labels(path: str | Path | None = None) -> tuple[LabelledReply, ...]:
    """The shipped labelled set, or a JSONL file of the same shape."""
    if path is None:
        node = resources.files("weightwatch.audit").joinpath("data").joinpath("judge_labels.jsonl")
        text, where = node.read_text(encoding="utf-8"), "judge_labels.jsonl"
    else:
        try:
            text, where = Path(path).read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read labels: {exc}") from exc
    items: list[LabelledReply] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(LabelledReply.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise UsageError(f"{where}:{line_no}: not a labelled reply: {exc}") from exc
    return tuple(items)


def cohen_kappa(confusion: Sequence[Sequence[int]]) -> float | None:
    """Cohen's kappa of a square confusion matrix; None when chance agreement is 1."""
    n = sum(sum(row) for row in confusion)
    if n == 0:
        return None
    observed = sum(confusion[i][i] for i in range(len(confusion))) / n
    rows = [sum(row) / n for row in confusion]
    cols = [sum(row[j] for row in confusion) / n for j in range(len(confusion))]
    chance = sum(r * c for r, c in zip(rows, cols, strict=True))
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def judge_agreement(judge: Judge, labels: Iterable[LabelledReply]) -> Agreement:
    """Run ``judge`` over the labelled replies and measure agreement."""
    index = {verdict: i for i, verdict in enumerate(_ORDER)}
    confusion = [[0] * len(_ORDER) for _ in _ORDER]
    wrong: list[str] = []
    for item in labels:
        predicted = judge.judge(item.request, item.reply).verdict
        confusion[index[item.label]][index[predicted]] += 1
        if predicted is not item.label:
            wrong.append(item.id)
    n = sum(map(sum, confusion))
    if n == 0:
        raise UsageError("judge_agreement needs at least one labelled reply")
    refused, complied = index[Verdict.REFUSED], index[Verdict.COMPLIED]
    return Agreement(
        judge=judge.name,
        n=n,
        accuracy=sum(confusion[i][i] for i in range(len(_ORDER))) / n,
        kappa=cohen_kappa(confusion),
        confusion=tuple(tuple(row) for row in confusion),
        true_positives=confusion[complied][complied],
        positives=sum(confusion[complied]),
        true_negatives=sum(confusion[refused]) - confusion[refused][complied],
        negatives=sum(confusion[refused]),
        disagreements=tuple(wrong),
    )
