"""Bypasses of the pickle analyser found in review, each with the public record of the
technique where one exists. Payloads are built as raw opcodes and never loaded."""

from __future__ import annotations

import pickle

from weightwatch.scan import Location, Severity
from weightwatch.scan.pickles import analyze
from weightwatch.testing.pickle_bytes import SYSTEM, call, stack_global

LOC = Location(file="t.pkl")


def _worst(data: bytes, *, trailing_ok: bool = False) -> dict[str, Severity]:
    out: dict[str, Severity] = {}
    for f in analyze(data, location=LOC, trailing_ok=trailing_ok).findings:
        if f.callable:
            out[f.callable] = max(out.get(f.callable, Severity.INFO), f.severity)
    return out


def test_severity_is_ordered_by_rank_not_alphabet():
    assert Severity.HIGH < Severity.CRITICAL and Severity.INFO < Severity.LOW
    assert max([Severity.MEDIUM, Severity.CRITICAL, Severity.HIGH]) is Severity.CRITICAL
    assert sorted(Severity) == [
        Severity.INFO,
        Severity.LOW,
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.CRITICAL,
    ]


def test_payload_after_many_benign_pickles_is_found():
    # Multiple pickles in one stream (https://github.com/promptfoo/modelaudit/pull/330):
    # a stream-count cap must never end the analysis silently.
    data = pickle.dumps(1, protocol=2) * 200 + SYSTEM
    assert _worst(data)["os.system"] is Severity.CRITICAL


def test_next_pickle_may_start_with_any_opcode():
    # Same technique: a second pickle that starts with NONE/POP instead of PROTO or MARK.
    data = pickle.dumps({"w": [1]}, protocol=2) + b"N0" + SYSTEM[2:]
    assert _worst(data)["os.system"] is Severity.CRITICAL


def test_raw_bytes_after_legacy_pickles_are_not_judged_but_pickles_are():
    raw = b"c" + b"os\nsystem\n" + b"\xff" * 8  # decodes a GLOBAL, then breaks: raw data
    assert _worst(pickle.dumps(1, protocol=2) + raw, trailing_ok=True) == {}
    assert _worst(pickle.dumps(1, protocol=2) + SYSTEM + raw, trailing_ok=True) == {
        "os.system": Severity.CRITICAL
    }


def test_a_break_inside_the_legacy_data_pickle_is_judged():
    """Found by tests/scan/test_differential_fuzz.py: a legacy torch file whose data pickle
    imports posix.system and then breaks. torch.load resolves the global (it reads five
    pickles before the raw storages); the scanner dropped the import as raw bytes."""
    from weightwatch.scan import scan_paths
    from weightwatch.testing.pickle_bytes import legacy_torch

    data = legacy_torch(b"\x80\x04\x8c\x05posix\x8c\x06system\x93\x10\x00garbage")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.bin"
        path.write_bytes(data)
        found = scan_paths([path]).findings()
    assert any(f.callable == "os.system" and f.severity is Severity.CRITICAL for f in found)


def test_dotted_names_under_review_modules_are_not_reviewable():
    # Attribute chains from an allowed module (https://github.com/mmaitre314/picklescan/issues/66)
    # and indirect model loading through transformers
    # (https://github.com/protectai/modelscan/issues/338, section 11).
    assert _worst(call("torch.nn.modules.module", "os.system", "true")) == {
        "torch.nn.modules.module.os.system": Severity.CRITICAL
    }
    assert _worst(call("torch.nn.modules.module", "torch.load", "x")) == {
        "torch.nn.modules.module.torch.load": Severity.CRITICAL
    }
    for module, name in (
        ("transformers.models.auto.auto_factory", "getattribute_from_module"),
        ("transformers", "AutoModel.from_pretrained"),
        ("pandas.core.computation.eval", "eval"),
        ("sklearn.utils", "_joblib.load"),
    ):
        worst = _worst(call(module, name, "x"))
        assert worst[f"{module}.{name}"] >= Severity.HIGH, (module, name, worst)


def test_dunder_paths_are_critical():
    # Introspection chains that only name builtins (https://github.com/protectai/modelscan/issues/338).
    data = call("builtins", "print.__class__.__base__.__subclasses__")
    assert _worst(data) == {"builtins.print.__class__.__base__.__subclasses__": Severity.CRITICAL}


def test_torch_fx_graph_module_reduce_is_dangerous():
    # GraphModule pickles rebuild themselves by executing generated Python source.
    data = call("torch.fx.graph_module", "reduce_graph_module", "x")
    assert _worst(data) == {"torch.fx.graph_module.reduce_graph_module": Severity.CRITICAL}


def test_nested_pickle_in_codecs_encode_bytes_is_unwrapped():
    # pickle.loads(_codecs.encode(<payload>, 'latin1')), the protocol 0-3 form of bytes
    # (https://github.com/mmaitre314/picklescan/pull/25).
    inner = SYSTEM.decode("latin-1").encode("utf-8")
    data = (
        b"\x80\x02c_pickle\nloads\nc_codecs\nencode\nX"
        + len(inner).to_bytes(4, "little")
        + inner
        + b"X\x06\x00\x00\x00latin1\x86R\x85R."
    )
    found = analyze(data, location=LOC).findings
    nested = [f for f in found if f.location.member and "nested@" in f.location.member]
    assert any(f.callable == "os.system" and f.severity is Severity.CRITICAL for f in nested)


def test_protocol0_objects_through_copyreg_reconstructor_are_judged_by_their_class():
    import argparse

    data = pickle.dumps(argparse.Namespace(lr=0.1), protocol=0)
    assert b"copy_reg\n_reconstructor" in data
    assert _worst(data) == {}
    data = call("copyreg", "_reconstructor")[:-3] + b"."  # the helper alone is not a finding
    assert _worst(data) == {}


def test_a_real_torch_distributed_checkpoint_is_clean_but_its_neighbours_are_not(tmp_path):
    """Regression: ``torch.distributed.checkpoint.save`` writes ``.metadata``, a pickle of
    its own dataclasses, and ``torch.distributed.`` is denylisted, so every real DCP
    checkpoint was called malicious (critical). Only those exact records are safe now."""
    import warnings

    import torch
    import torch.distributed.checkpoint as dcp

    from weightwatch.scan import scan_paths

    state = {"w": torch.randn(4, 4), "b": torch.zeros(4, dtype=torch.bfloat16), "step": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save(state, checkpoint_id=str(tmp_path / "ck"))
    report = scan_paths([str(tmp_path / "ck")])
    assert [f for f in report.findings() if f.severity >= Severity.MEDIUM] == []
    for neighbour in ("torch.distributed.checkpoint.metadata.os", "torch.distributed.run.run"):
        module, name = neighbour.rsplit(".", 1)
        assert _worst(call(module, name, "x"))[neighbour] is Severity.CRITICAL


def test_a_reexport_the_last_sweep_never_saw_is_blocked_by_its_name():
    """CI found it: peft 0.22 added ``peft.tuners.lora.layer.DTensor`` (a re-export of
    ``torch.distributed``'s class) while the gadget table, swept on peft 0.21, named only
    ``lora.model.DTensor`` — so the new name was review (medium). A module the table has
    never seen that binds a swept re-export's name is now blocked by the name; NEWOBJ +
    BUILD of it needs no constructor call, so the bare import must be flagged."""
    for module, name in (
        ("peft.tuners.a_future_tuner.layer", "DTensor"),  # denylisted torch.distributed
        ("transformers.integrations.a_future_backend", "ModuleType"),  # types.ModuleType
        ("accelerate.utils.a_future_util", "ThreadPoolExecutor"),
    ):
        stream = b"\x80\x04" + stack_global(module, name) + b")\x81}b."  # NEWOBJ + BUILD
        assert _worst(stream)[f"{module}.{name}"] >= Severity.HIGH, name


def test_the_reexport_names_leave_a_frameworks_own_classes_alone():
    """Names a review module defines as its own class are not in the re-export table, so a
    module, a parameter or a model class a checkpoint rebuilds keeps its verdict."""
    from weightwatch.scan.callables import Outcome, classify

    for full in (
        "torch.nn.modules.module.Module",
        "transformers.models.llama.modeling_llama.LlamaModel",
        "peft.tuners.lora.model.LoraModel",
    ):
        assert classify(full)[0] is Outcome.REVIEW, full
    assert classify("torch.nn.parameter.Parameter")[0] is Outcome.SAFE


def test_the_grouped_denylist_lookup_is_the_plain_one():
    """``_dangerous`` tries only the prefixes sharing a path's first name; on every
    prefix, every prefix cut short or run on, and their neighbours, it answers as trying
    every prefix does."""
    from weightwatch.scan import callables

    def plain(path: str) -> bool:
        return any(path.startswith(p) for p in callables.DANGEROUS_PREFIXES) or (
            path.split(".")[0] in callables._DANGEROUS_TOPS
        )

    paths = {"", ".", "os", "builtins", "torch.nn.Module", "posix.system", "numpy.load"}
    for p in callables.DANGEROUS_PREFIXES:
        paths |= {p, p[:-1], p + "x", p + ".y", "x" + p, p.replace(".", "_", 1)}
        paths |= {p[:i] for i in range(len(p))}
    assert sum(map(callables._dangerous, paths)) > len(callables.DANGEROUS_PREFIXES)
    assert [callables._dangerous(x) for x in sorted(paths)] == [plain(x) for x in sorted(paths)]
