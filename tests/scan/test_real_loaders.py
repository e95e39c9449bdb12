"""Each loading-path entry of the malicious corpus runs its payload in the real loader
(observed in the sandbox, never executed) — so the corpus tests real paths, not shapes —
and the scanner flags it."""

from __future__ import annotations

import pytest

from tests.scan.real_loaders import RealLoaders
from weightwatch.scan import Severity, scan_paths
from weightwatch.testing.scan_corpus import build_corpus

pytest.importorskip("joblib")
pytest.importorskip("torch")

LOADERS = {
    "model.joblib": "joblib",
    "model-zlib.joblib": "joblib",
    "model-lzma.joblib": "joblib",
    "model-lz4.joblib": "joblib",
    "model-zfile.pkl": "joblib",
    "objects.joblib": "joblib",
    "objects.npz": "numpy",
    "frame.pkl.zip": "pandas",
    "eop.pkl": "pickle",
    "broken-pickle.pkl": "pickle",
    "legacy-torch.bin": "torch",
    "frame.pkl.gz": "pandas",
    "frame.pkl.bz2": "pandas",
    "frame.pkl.xz": "pandas",
    "frame.pkl.zst": "pandas",
    "frame.pkl.tar.gz": "pandas",
    "model-gzip.joblib": "joblib",
    "model-bz2.joblib": "joblib",
    "model-xz.joblib": "joblib",
    "hub-weights.zip": "torch-hub-zip",
    ".metadata": "torch-dcp",
    "export-artifact.pt": "torch-export-artifact",  # EOP: the unsafe retry runs it
    "datapipe-wrapper.pkl": "pickle",  # a gadget the sweep found (BUILD -> pickle.loads)
}


@pytest.fixture(scope="module")
def loaders():
    real = RealLoaders()
    yield real
    real.close()


@pytest.fixture(scope="module")
def entries(tmp_path_factory):
    return {e.name: e for e in build_corpus(tmp_path_factory.mktemp("corpus"))}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_loading_path_runs_in_its_loader_and_is_flagged(loaders, entries, name):
    if LOADERS[name] == "pandas":
        pytest.importorskip("pandas")
    entry = entries[name]
    seen = loaders.run(LOADERS[name], entry.path)
    assert "os.system" in seen["attempts"], seen  # the real loader reached the payload
    report = scan_paths([entry.path])
    assert any(f.severity >= Severity.HIGH for f in report.findings())
