"""The gadget sweep (Hide-and-Seek's method on the installed frameworks): every callable a
pickle may import that the scanner lets through as safe or review is followed through
the installed source to dangerous sinks, and every gadget found must be reported at high
or critical when a pickle calls it. The sweep reads source with ``ast`` only; its result
is cached per library version (``weightwatch.testing.scan_corpus_sweep``).

The test sweeps the review prefixes' packages with transformers' per-model modules cut
to two families (their classes share ``PreTrainedModel``'s constructor); the full sweep
is ``python benchmarks/scanner/loading_paths.py gadgets`` (figures in docs/scanner.md).
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import _cache
from weightwatch.scan import gadgets
from weightwatch.scan.callables import Outcome, classify
from weightwatch.scan.findings import Location, Severity
from weightwatch.scan.pickles import analyze
from weightwatch.testing.pickle_bytes import SYSTEM, call, stack_global
from weightwatch.testing.scan_corpus_source import SourceIndex
from weightwatch.testing.scan_corpus_sweep import Gadget, enum_classes, sweep

pytestmark = pytest.mark.slow

PACKAGES = (
    "torch.nn", "torch.optim", "torch.ao", "torch.utils.data", "torch.serialization",
    "torch.hub", "torch.types", "torch.distributed", "torch.fx", "torch.jit", "sklearn",
    "accelerate", "peft", "tokenizers", "xgboost", "lightgbm",
    "scipy.sparse", "numpy.random", "numpy.ma", "numpy.core", "pandas.core", "joblib",
    *(f"transformers.{m}" for m in (
        "modeling_utils", "configuration_utils", "tokenization_utils_base", "trainer",
        "tokenization_utils_tokenizers", "trainer_utils", "trainer_pt_utils", "training_args", "utils", "integrations",
        "generation", "pipelines", "dynamic_module_utils", "data", "cli",
        "models.llama", "models.bert", "models.auto",
    )),
)  # fmt: skip
HERE = Path(__file__).resolve()
SWEEP_SRC = HERE.parents[2] / "src" / "weightwatch" / "testing"


def _key() -> str:
    h = hashlib.sha256()
    for name in ("scan_corpus_source.py", "scan_corpus_sweep.py"):
        h.update((SWEEP_SRC / name).read_bytes())
    h.update(json.dumps(PACKAGES).encode())
    for dist in ("torch", "transformers", "scikit-learn", "numpy", "pandas", "accelerate",
                 "peft", "tokenizers", "lightgbm", "scipy", "joblib"):  # fmt: skip
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(dist.encode())
    return h.hexdigest()[:12]


@pytest.fixture(scope="module")
def swept() -> dict[str, object]:
    cache = _cache() / f"gadget-sweep-{_key()}.json"
    if cache.is_file():
        return json.loads(cache.read_text())  # type: ignore[no-any-return]
    index = SourceIndex.build(list(PACKAGES))
    examined, found = sweep(index)
    enums, bad_enums = enum_classes(index)
    result = {
        "examined": examined,
        "gadgets": [g.as_json() for g in [*found, *bad_enums]],
        "enums": enums,
        "modules": len(index.modules),
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result))
    return result


def _found(swept: dict[str, object]) -> list[Gadget]:
    return [
        Gadget(g["name"], g["trigger"], g["sink"], tuple(g["chain"]))  # type: ignore[index]
        for g in swept["gadgets"]  # type: ignore[attr-defined]
    ]


def _severity(data: bytes) -> Severity | None:
    findings = analyze(data, location=Location(file="sweep.pkl")).findings
    return max((f.severity for f in findings), default=None)


def test_the_sweep_examines_every_review_prefix_and_finds_gadgets(swept):
    assert swept["modules"] > 1500 and swept["examined"] > 5000
    found = _found(swept)
    tops = {g.name.split(".")[0] for g in found}
    assert {"torch", "sklearn", "transformers"} <= tops
    names = {g.name for g in found}
    # gadgets whose chains were read by hand (docs/scanner.md, "the gadget sweep")
    assert "torch.utils.data.dataloader._IterDataPipeSerializationWrapper" in names
    assert any(n.startswith("transformers.models.llama.") for n in names)


def test_every_gadget_called_by_a_pickle_is_high_or_critical(swept):
    weak = []
    for g in _found(swept):
        module, _, qual = g.name.rpartition(".")
        severity = _severity(call(module, qual, "x"))
        if severity is None or severity < Severity.HIGH:
            weak.append((g.name, g.trigger, g.sink, severity))
    assert weak == [], weak[:20]


def test_build_and_reexport_gadgets_are_blocked_whatever_the_opcode(swept):
    """A gadget reached through BUILD (``__setstate__``) or a re-export needs no
    constructor call: the bare import must be flagged — by ``GADGETS`` where the table's
    sweep saw it, by the re-exported class's name (``REEXPORTED``) where a newer release
    re-exports it somewhere else (peft 0.22's ``lora.layer.DTensor`` failed CI here)."""
    for g in _found(swept):
        if g.trigger != "call":
            outcome, severity = classify(g.name)
            assert outcome is Outcome.BLOCK and severity is not None, g
            assert severity >= Severity.HIGH, g
            if g.trigger != "re-export":
                assert g.name in gadgets.GADGETS, g  # a BUILD gadget has no name to go by


def test_no_gadget_is_constructible_as_rebuilt(swept):
    names = {g.name for g in _found(swept)}
    assert names.isdisjoint(gadgets.REDUCE_REBUILT)
    # every enum the sweep calls harmless is in the table a checkpoint's enums need
    assert set(swept["enums"]) <= gadgets.REDUCE_REBUILT  # type: ignore[arg-type]


def test_a_datapipe_wrapper_unpickles_its_build_state():
    """Before the sweep, NEWOBJ + BUILD of this review class was medium: its
    ``__setstate__`` runs ``pickle.loads`` on the state, a nested payload the scanner
    never opened."""
    wrapper = stack_global("torch.utils.data.dataloader", "_IterDataPipeSerializationWrapper")
    state = b"(C" + bytes([len(SYSTEM)]) + SYSTEM + b"\x89t"  # (payload bytes, use_dill=False)
    stream = b"\x80\x04" + wrapper + b")\x81" + state + b"b."
    severity = _severity(stream)
    assert severity is not None and severity >= Severity.HIGH


def test_enum_and_compiled_constructors_stay_review():
    """What real checkpoints construct (transformers' and accelerate's enums in
    training_args.bin, scikit-learn's Cython trees) stays a reviewer's call."""
    for module, name in (
        ("transformers.trainer_utils", "IntervalStrategy"),
        ("accelerate.utils.dataclasses", "DistributedType"),
        ("sklearn.tree._tree", "Tree"),
    ):
        assert _severity(call(module, name, "steps")) is Severity.MEDIUM, name


def test_constructing_a_model_class_with_pickle_arguments_is_high():
    severity = _severity(call("transformers.models.llama.modeling_llama", "LlamaModel", "x"))
    assert severity is not None and severity >= Severity.HIGH
    # the same class rebuilt as checkpoints rebuild it (NEWOBJ, no constructor) is review
    newobj = (
        b"\x80\x04"
        + stack_global("transformers.models.llama.modeling_llama", "LlamaModel")
        + b")\x81."
    )
    assert _severity(newobj) is Severity.MEDIUM
