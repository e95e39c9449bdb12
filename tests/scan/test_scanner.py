"""The scanner on real checkpoints (clean), framework objects (review) and payloads (blocked)."""

from __future__ import annotations

import bz2
import collections
import gzip
import io
import lzma
import os
import pickle
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.artifacts.builders import (
    Payload,
    legacy_torch_with_pickle,
    malicious_pickles,
    torch_zip_with_pickle,
)
from weightwatch.cli import main
from weightwatch.scan import Location, Severity, Verdict, scan_paths
from weightwatch.scan.callables import canonical
from weightwatch.scan.pickles import analyze


def _only(tmp_path: Path, name: str, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return scan_paths([p]).files[0]


def test_malicious_payloads_in_every_container(tmp_path):
    marker = tmp_path / "marker"
    for raw_name, data in malicious_pickles(marker).items():
        callable_name = canonical(*raw_name.rsplit(".", 1))  # posix.system is os.system
        tar_buf = io.BytesIO()
        with tarfile.open(fileobj=tar_buf, mode="w") as tf:
            info = tarfile.TarInfo("inner/readme.txt")  # a pickle under an innocent name
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        zip_buf = io.BytesIO()
        with zipfile.ZipFile(zip_buf, "w") as zf:
            zf.writestr("weights/config.json", data)
        containers = {
            "raw.pkl": data,
            "model.safetensors": data,  # misleading extension
            "torch-zip.bin": torch_zip_with_pickle(data),
            "legacy.bin": legacy_torch_with_pickle(data),
            "model.bin.gz": gzip.compress(data),
            "model.bz2": bz2.compress(data),
            "model.xz": lzma.compress(data),
            "bundle.tar": tar_buf.getvalue(),
            "bundle.zip": zip_buf.getvalue(),
            "double.tar.gz": gzip.compress(tar_buf.getvalue()),
            "two-streams.pkl": pickle.dumps({"weights": [1, 2]}) + data,  # payload after STOP
        }
        for name, payload in containers.items():
            report = _only(tmp_path, name, payload)
            assert report.verdict is Verdict.MALICIOUS, (callable_name, name, report)
            assert any(
                f.callable == callable_name and f.severity is Severity.CRITICAL
                for f in report.findings
            ), (callable_name, name, report.findings)
    assert not marker.exists()


def test_truncated_payload_still_reports_what_ran_before_the_break(tmp_path):
    data = pickle.dumps(Payload(os.system, "true"), protocol=2)
    cut = data[: data.index(b"R") + 1]  # REDUCE executed, STOP never reached
    report = _only(tmp_path, "cut.pkl", cut)
    ids = {f.rule_id for f in report.findings}
    assert {"WW-PICKLE-001", "WW-PICKLE-006"} <= ids
    assert report.verdict is Verdict.MALICIOUS


def test_nested_pickle_is_unwrapped(tmp_path):
    inner = pickle.dumps(Payload(os.system, "echo nested"), protocol=4)
    outer = pickle.dumps(Payload(pickle.loads, inner), protocol=4)  # noqa: TID251 (pickled, never called)
    report = _only(tmp_path, "nested.pkl", outer)
    nested = [f for f in report.findings if f.location.member and "nested@" in f.location.member]
    assert any(f.callable == "os.system" for f in nested)
    assert any(f.rule_id == "WW-PICKLE-008" for f in report.findings)


def test_memo_indirection_and_stack_global(tmp_path):
    # protocol 4: module and name strings memoized, fetched back with BINGET, then STACK_GLOBAL
    data = b"\x80\x04\x8c\x05posix\x94\x8c\x06system\x94h\x00h\x01\x93\x8c\x04true\x85R."
    report = _only(tmp_path, "memo.pkl", data)
    assert any(f.callable == "os.system" for f in report.findings)
    # a name computed at load time cannot be resolved statically: that is itself high
    computed = b"\x80\x04\x8c\x05posix\x94\x8c\x03sys\x8c\x03tem\x86\x93."
    report = _only(tmp_path, "computed.pkl", computed)
    assert any(f.rule_id == "WW-PICKLE-004" for f in report.findings)
    assert report.verdict is Verdict.MALICIOUS


@pytest.mark.slow
def test_real_checkpoints_are_clean(llama_family, gpt2_family):
    paths = []
    for fam in (llama_family, gpt2_family):
        paths += [p for name, p in fam.members().items() if name != "tokenizer"]
    report = scan_paths(paths)
    bad = [(f.path, [x.explanation for x in f.findings]) for f in report.files if f.findings]
    assert bad == []
    assert report.verdict is Verdict.CLEAN


def test_benign_pickles_are_clean(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 4)).sum().backward()
    opt.step()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sgd.step()
    benign = {
        "sd.pt": lambda p: torch.save(model.state_dict(), p),
        "sd-legacy.pt": lambda p: torch.save(
            model.state_dict(), p, _use_new_zipfile_serialization=False
        ),
        "adam.pt": lambda p: torch.save(
            {"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, p
        ),
        "sgd.pt": lambda p: torch.save(sgd.state_dict(), p),
        "np-arrays.pkl": lambda p: p.write_bytes(
            pickle.dumps({"a": np.arange(10), "b": np.ones((2, 2), np.float16)}, protocol=2)
        ),
        "np-p5.pkl": lambda p: p.write_bytes(pickle.dumps([np.zeros(3)], protocol=5)),
        "plain.pkl": lambda p: p.write_bytes(
            pickle.dumps(
                {"s": {1, 2}, "b": bytearray(b"x"), "o": collections.OrderedDict(a=1)}, protocol=4
            )
        ),
        "p0.pkl": lambda p: p.write_bytes(pickle.dumps({"x": [1.5, "y", None]}, protocol=0)),
    }
    for name, write in benign.items():
        write(tmp_path / name)
        report = scan_paths([tmp_path / name]).files[0]
        assert not [f for f in report.findings if f.severity >= Severity.MEDIUM], (
            name,
            report.findings,
        )


def test_whole_module_needs_review_not_block(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    report = scan_paths([tmp_path / "module.pt"]).files[0]
    assert report.verdict is Verdict.SUSPICIOUS
    assert {f.severity for f in report.findings} == {Severity.MEDIUM}
    assert any(f.callable == "torch.nn.modules.linear.Linear" for f in report.findings)


def test_cli_exit_codes_and_json(tmp_path, capsys):
    (tmp_path / "ok").mkdir()
    np.save(tmp_path / "ok" / "a.npy", np.ones(3))
    assert main(["scan", str(tmp_path / "ok")]) == 0
    (tmp_path / "bad.pkl").write_bytes(malicious_pickles(tmp_path / "m")["posix.system"])
    capsys.readouterr()
    assert main(["scan", str(tmp_path / "bad.pkl"), "--json"]) == 1
    doc = __import__("json").loads(capsys.readouterr().out)
    assert (
        doc["verdict"] == "malicious" and doc["files"][0]["findings"][0]["callable"] == "os.system"
    )
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    assert main(["scan", str(tmp_path / "module.pt")]) == 0  # medium < default --fail-on high
    assert main(["scan", str(tmp_path / "module.pt"), "--fail-on", "medium"]) == 1
    (tmp_path / "broken.pkl").write_bytes(b"\x80\x04\x95garbage")
    assert main(["scan", str(tmp_path / "broken.pkl")]) == 2
    assert main(["scan", str(tmp_path / "nope")]) == 2


_SEEDS = None


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_pickles_never_crash(data):
    global _SEEDS
    if _SEEDS is None:
        _SEEDS = [
            *malicious_pickles(Path("/nonexistent/m")).values(),
            pickle.dumps({"a": np.arange(4)}, protocol=2),
            pickle.dumps([1, "x", (2.0,)], protocol=0),
        ]
    blob = bytearray(data.draw(st.sampled_from(_SEEDS)))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(blob) - 1))
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip":
            blob[i] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "cut":
            del blob[i:]
            if not blob:
                break
        else:
            blob.insert(i, data.draw(st.integers(0, 255)))
    result = analyze(bytes(blob), location=Location(file="fuzz"))
    assert result.end <= len(blob)


def test_analysis_never_executes(tmp_path):
    events: list[str] = []
    on = [False]

    def hook(event: str, args: tuple) -> None:
        if on[0] and (
            event in ("os.system", "subprocess.Popen", "exec", "compile")
            or event.startswith("os.exec")
            or (event == "import" and args[0] not in sys.modules)
        ):
            events.append(event)

    sys.addaudithook(hook)
    payloads = list(malicious_pickles(tmp_path / "m").values())
    analyze(payloads[0], location=Location(file="warm"))
    on[0] = True
    try:
        for p in payloads:
            analyze(p, location=Location(file="x"))
            analyze(torch_zip_with_pickle(p), location=Location(file="x"))
    finally:
        on[0] = False
    assert events == []


def test_sarif_output(tmp_path):
    (tmp_path / "bad.pkl").write_bytes(malicious_pickles(tmp_path / "m")["posix.system"])
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    out = tmp_path / "scan.sarif"
    assert (
        main(["scan", str(tmp_path / "bad.pkl"), str(tmp_path / "module.pt"), "--sarif", str(out)])
        == 1
    )
    doc = __import__("json").loads(out.read_text())
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "weightwatch"
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"WW-PICKLE-001": "error", "WW-PICKLE-003": "warning"}
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith((".pkl", ".pt"))
        assert loc["region"]["startLine"] == 1
    assert all(float(r["properties"]["security-severity"]) > 0 for r in rules)
