"""The loading-path inventory (Hide-and-Seek's first step on the installed frameworks)
and the file types it found that the scanner had missed: torch.distributed.checkpoint's
``.distcp`` items at offsets only ``.metadata`` knows, torch.export's ``.pt2`` archives,
and torch.export's weights_only=True -> False fallback (EOP)."""

from __future__ import annotations

import io

import pytest

from weightwatch.scan import Severity, scan_paths
from weightwatch.testing.pickle_bytes import SYSTEM, legacy_torch, torch_zip
from weightwatch.testing.scan_corpus_inventory import inventory
from weightwatch.testing.scan_corpus_source import SourceIndex

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def sites():
    index = SourceIndex.build(
        ["torch.distributed.checkpoint", "torch.export", "torch._export.serde", "torch.hub",
         "torch.serialization", "pickle"],
        stdlib=False,
    )  # fmt: skip
    return inventory(index)


def _find(sites, function):
    return [s for s in sites if f"{s.module}.{s.function}".endswith(function)]


def test_the_inventory_finds_each_kind_of_site(sites):
    load_bytes = _find(sites, "DefaultLoadPlanner.load_bytes")
    assert load_bytes and all(s.safety == "weights_only=False" for s in load_bytes)
    assert any(s.loader == "pickle" for s in _find(sites, "FileSystemReader.read_metadata"))
    assert {s.loader for s in _find(sites, "_package._load_constants")} >= {"pickle", "torch.load"}
    hub = _find(sites, "hub.load_state_dict_from_url")
    assert hub and hub[0].safety == "caller decides weights_only"
    # the exception fallback: a safe load in try, an unsafe one in its handler
    eop = [s for s in sites if s.eop]
    assert [s.function for s in eop] == ["deserialize_torch_artifact"], eop


def _flagged(path):
    return any(f.severity >= Severity.HIGH for f in scan_paths([path]).findings())


@pytest.mark.parametrize("build", [torch_zip, legacy_torch])
def test_a_distcp_item_after_tensor_bytes_is_flagged(tmp_path, build):
    """Before: a .distcp whose first bytes are tensor data scanned as unknown, clean."""
    (tmp_path / ".metadata").write_bytes(b"\x80\x04N.")
    data = tmp_path / "__0_0.distcp"
    data.write_bytes(bytes(256) + build(SYSTEM) + bytes(64))
    assert _flagged(data)


def test_a_real_distributed_checkpoint_is_clean(tmp_path):
    dcp = pytest.importorskip("torch.distributed.checkpoint")
    state = {"w": torch.arange(64.0).reshape(8, 8), "step": 5, "names": ["a", "b"]}
    dcp.save(state, checkpoint_id=str(tmp_path))
    assert any(p.suffix == ".distcp" for p in tmp_path.iterdir())
    report = scan_paths([tmp_path])
    # the data files: carving their torch.save items adds nothing (``.metadata`` itself
    # names torch.distributed's dataclasses, which the denylist flags: noted in the docs)
    data = [r for r in report.files if r.path.endswith(".distcp")]
    assert data and all(not r.findings and r.error is None for r in data), data


def test_a_pt2_archive_payload_is_flagged(tmp_path):
    from weightwatch.testing.scan_corpus_paths import _pt2_archive

    path = tmp_path / "model.pt2"
    path.write_bytes(_pt2_archive(SYSTEM))
    assert _flagged(path)


def test_the_export_fallback_file_is_flagged(tmp_path):
    """What triggers deserialize_torch_artifact's retry: anything weights_only=True
    refuses — which is what the scanner judges, whatever the loader's flag."""
    buf = io.BytesIO(torch_zip(SYSTEM))
    path = tmp_path / "export-artifact.pt"
    path.write_bytes(buf.getvalue())
    assert _flagged(path)


def test_a_keras_torch_module_wrapper_is_opened(tmp_path):
    """Before: the base64 ``torch.save`` output in a .keras config (which Keras hands to
    torch.load(weights_only=False) under safe_mode=False) was never looked at: clean."""
    from weightwatch.testing.scan_corpus_paths import _keras_torch_wrapper

    bad = tmp_path / "bad.keras"
    bad.write_bytes(_keras_torch_wrapper(torch_zip(SYSTEM)))
    assert _flagged(bad)
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buf)  # a real wrapped module: review, not malicious
    good = tmp_path / "good.keras"
    good.write_bytes(_keras_torch_wrapper(buf.getvalue()))
    findings = scan_paths([good]).findings()
    assert findings and max(f.severity for f in findings) is Severity.MEDIUM, findings
