"""joblib and skops files as their libraries write them: read without executing, never
called broken or malicious; and the tricks that hide a payload in their layouts caught."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from weightwatch.scan import Severity, scan_paths

joblib = pytest.importorskip("joblib")
sklearn_linear = pytest.importorskip("sklearn.linear_model")
pd = pytest.importorskip("pandas")

COMPRESSIONS = ["zlib", "gzip", "bz2", "lzma", "xz", "lz4"]


def _report(path):
    (r,) = scan_paths([path]).files
    return r


def _worst(path) -> Severity | None:
    sev = [f.severity for f in _report(path).findings]
    return max(sev, key=lambda s: s.rank) if sev else None


@pytest.fixture(scope="module")
def estimator():
    rng = np.random.default_rng(0)
    x = rng.random((40, 3))
    return sklearn_linear.LogisticRegression().fit(x, (x[:, 0] > 0.5).astype(int))


@pytest.mark.parametrize("compress", [0, *COMPRESSIONS])
def test_joblib_dump_of_arrays_reads_clean_in_every_compression(tmp_path, compress):
    """Bug: every joblib file was 'error' (the array bytes after a wrapper's BUILD were
    read as opcodes), and compress='lzma' was not recognised at all (silently clean)."""
    path = tmp_path / f"arrays-{compress}.joblib"
    value = {
        "w": np.arange(24, dtype=np.float32).reshape(4, 6),
        "f": np.asfortranarray(np.ones((3, 5))),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 4), dtype=np.int16),
        "text": np.array(["ab", "cde"]),
        "rec": np.zeros(3, dtype=[("a", "<f4"), ("b", "<i8")]),
        "objects": np.array(["x", 1, None], dtype=object),
        "after": [1, 2, 3],
    }
    joblib.dump(value, path, compress=compress)
    r = _report(path)
    assert r.findings == [] and r.error is None and r.verdict.value == "clean", r.findings


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("true",))


@pytest.mark.parametrize("compress", [0, *COMPRESSIONS])
def test_joblib_payload_caught_in_every_compression(tmp_path, compress):
    """The same container read for real: a payload after an array, in each compression."""
    path = tmp_path / f"evil-{compress}.joblib"
    joblib.dump([np.arange(10.0), _Evil()], path, compress=compress)
    r = _report(path)
    assert any(f.callable == "os.system" for f in r.findings), (compress, r.findings)


@pytest.mark.parametrize("compress", [0, "zlib", "lzma"])
def test_joblib_estimator_is_review_not_malicious(tmp_path, estimator, compress):
    path = tmp_path / "model.joblib"
    joblib.dump(estimator, path, compress=compress)
    r = _report(path)
    assert r.error is None
    assert {f.rule_id for f in r.findings} == {"WW-PICKLE-003"}  # sklearn: a reviewer's call
    assert all(f.severity is Severity.MEDIUM for f in r.findings)


def test_payload_after_a_joblib_array_is_still_caught(tmp_path):
    """Skipping the array must not skip what follows it: a REDUCE of os.system after the
    array data runs under joblib.load."""
    path = tmp_path / "evil.joblib"
    joblib.dump([np.arange(5.0), "tail"], path)
    data = path.read_bytes()
    assert data.endswith(b".")
    payload = b"\x8c\x02os\x8c\x06system\x93\x8c\x04echo\x85R0"
    path.write_bytes(data[:-1] + payload + b".")
    r = _report(path)
    assert any(f.callable == "os.system" and f.severity is Severity.CRITICAL for f in r.findings)


def test_payload_in_a_joblib_object_array_is_caught(tmp_path):
    path = tmp_path / "evil-objects.joblib"
    joblib.dump({"a": np.array([_Evil()], dtype=object)}, path)
    assert any(f.callable == "os.system" for f in _report(path).findings)


def test_opcodes_hidden_in_array_data_for_plain_pickle_load_are_judged(tmp_path):
    """A forged padding byte that is an opcode: joblib skips it, pickle.load runs it."""
    path = tmp_path / "forged.joblib"
    joblib.dump(np.zeros(64, dtype=np.uint8), path)
    data = bytearray(path.read_bytes())
    hidden = b"cos\nsystem\n"  # what pickle.load would import from the "array"
    i = data.index(b"\xff" * 4) - 1  # the padding-length byte before joblib's 0xff padding
    forged = bytes([ord("c")]) + b"\xff" * 0  # length byte 'c' (99) is also GLOBAL
    new = data[:i] + forged + hidden[1:] + b"\xff" * (99 - len(hidden) + 1) + bytes(64)
    end = data[i + 1 + data[i] + 64 :]
    path.write_bytes(bytes(new) + bytes(end))
    r = _report(path)
    assert any(f.callable == "os.system" for f in r.findings), r.findings


def test_joblib_array_that_overruns_the_file_is_an_error(tmp_path):
    path = tmp_path / "short.joblib"
    joblib.dump(np.zeros(1000), path)
    path.write_bytes(path.read_bytes()[:400])
    r = _report(path)
    assert r.error is not None and r.verdict.value == "error"


def test_pandas_pickles_are_data(tmp_path):
    """Bug: DataFrame/Series pickles were high (pandas.DataFrame 'not on the allowlist')."""
    frame = pd.DataFrame(
        {
            "a": [1, 2, 3],
            "s": pd.array(["x", None, "z"], dtype="string"),
            "c": pd.Categorical(["u", "v", "u"]),
            "t": pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"),
            "n": pd.array([1, None, 3], dtype="Int64"),
        },
        index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2), ("c", 3)]),
    )
    for proto in (2, 4, 5):
        path = tmp_path / f"frame-{proto}.pkl"
        path.write_bytes(pickle.dumps(frame, protocol=proto))
        assert _report(path).findings == []
    frame.to_pickle(tmp_path / "frame.pkl.gz")
    assert _report(tmp_path / "frame.pkl.gz").findings == []
    frame["a"].to_pickle(tmp_path / "series.pkl")
    assert _report(tmp_path / "series.pkl").findings == []


def test_pandas_readers_and_eval_stay_dangerous(tmp_path):
    for module, name in (
        ("pandas", "read_pickle"),
        ("pandas", "eval"),
        ("pandas.io.pickle", "read_pickle"),
    ):
        path = tmp_path / f"{name}.pkl"
        mod, nm = module.encode(), name.encode()
        path.write_bytes(
            b"\x80\x04\x8c"
            + bytes([len(mod)])
            + mod
            + b"\x8c"
            + bytes([len(nm)])
            + nm
            + b"\x93\x8c\x01x\x85R."
        )
        assert _worst(path) is Severity.CRITICAL


def test_getattr_on_a_global_is_judged_by_what_it_reaches(tmp_path):
    def stream(cls_module: bytes, cls: bytes, attr: bytes) -> bytes:
        return (
            b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93"
            + b"\x8c" + bytes([len(cls_module)]) + cls_module
            + b"\x8c" + bytes([len(cls)]) + cls + b"\x93"
            + b"\x8c" + bytes([len(attr)]) + attr + b"\x86R\x8c\x01x\x85R."
        )  # fmt: skip

    ok = tmp_path / "zone.pkl"
    ok.write_bytes(stream(b"zoneinfo", b"ZoneInfo", b"_unpickle"))
    assert _report(ok).findings == []
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(stream(b"zoneinfo", b"ZoneInfo", b"__init_subclass__"))
    assert _worst(bad) is Severity.CRITICAL
    worse = tmp_path / "os.pkl"
    worse.write_bytes(stream(b"os", b"path", b"join"))
    assert _worst(worse) is Severity.CRITICAL


skops_io = pytest.importorskip("skops.io")


def test_skops_estimator_matches_skops_trust_and_is_not_malicious(tmp_path, estimator):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    x = np.random.default_rng(1).random((20, 3))
    pipe = make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), estimator)
    pipe.fit(x, (x[:, 0] > 0.5).astype(int))
    path = tmp_path / "pipe.skops"
    skops_io.dump(pipe, path)
    assert skops_io.get_untrusted_types(file=path) == []
    r = _report(path)
    assert r.error is None
    assert all(f.severity <= Severity.MEDIUM for f in r.findings), r.findings
    assert {f.rule_id for f in r.findings} == {"WW-SKOPS-001"}


def test_skops_function_reference_outside_trust_is_caught(tmp_path):
    import json
    import zipfile

    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "ft.skops"
    skops_io.dump(FunctionTransformer(np.log1p), path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(members["schema.json"])
    nodes = [schema]
    swapped = 0
    while nodes:
        node = nodes.pop()
        if isinstance(node, dict):
            if node.get("__class__") == "log1p" and node.get("__module__") == "numpy":
                node["__class__"], node["__module__"] = "system", "os"
                swapped += 1
            nodes.extend(node.values())
        elif isinstance(node, list):
            nodes.extend(node)
    assert swapped == 1
    members["schema.json"] = json.dumps(schema).encode()
    evil = tmp_path / "evil.skops"
    with zipfile.ZipFile(evil, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    assert "os.system" in skops_io.get_untrusted_types(file=evil)  # skops agrees
    r = _report(evil)
    assert any(f.callable == "os.system" and f.severity is Severity.CRITICAL for f in r.findings)


def test_lzma_alone_detection_is_tight():
    from weightwatch.artifacts.detect import detect_bytes

    real = b"\x5d\x00\x00\x80\x00" + struct.pack("<q", -1) + b"\x00" * 20
    assert detect_bytes(real, size=1000)[0].value == "xz"
    assert detect_bytes(b"\x5d\x12\x34\x56\x00" + b"\x00" * 30, size=1000)[0].value != "xz"


def test_a_real_joblib_array_is_not_read_again_as_a_plain_pickle(tmp_path, monkeypatch):
    """joblib's padding byte is no opcode, so ``pickle.load`` would stop there: the plain
    view reads nothing more (it used to read 1 MiB of every array's data)."""
    import joblib

    import weightwatch.scan.pickles as pickles

    joblib.dump({"a": np.zeros(300_000), "b": np.arange(10)}, tmp_path / "m.joblib")
    calls: list[int] = []
    real = pickles.analyze

    def spy(data, **kw):  # only the plain view calls the module-level name
        calls.append(len(data) if isinstance(data, bytes) else -1)
        return real(data, **kw)

    monkeypatch.setattr(pickles, "analyze", spy)
    assert scan_paths([tmp_path / "m.joblib"]).files[0].findings == []
    assert calls == []
