"""ModelPack manifests without a registry: layer types, unsafe paths refused, and a
manifest that is not a model (or names one file twice) refused before any download."""

from __future__ import annotations

import json

import pytest

from weightwatch.errors import UsageError
from weightwatch.oci import layout


def test_layer_media_types() -> None:
    assert layout.media_type("model-00001-of-00002.safetensors") == layout.WEIGHT
    assert layout.media_type("sub/model.gguf") == layout.WEIGHT
    assert layout.media_type("pytorch_model.bin") == layout.WEIGHT
    assert layout.media_type("config.json") == layout.WEIGHT_CONFIG
    assert layout.media_type("tokenizer.json") == layout.WEIGHT_CONFIG
    assert layout.media_type("README.md") == layout.DOC
    assert layout.media_type("LICENSE") == layout.DOC
    assert layout.media_type("modeling_x.py") == layout.CODE


@pytest.mark.parametrize("path", ["../evil", "/etc/passwd", "a/../../b", "", "a\\b", "a\x00b"])
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(UsageError):
        layout.safe_path(path)


def _manifest(*paths: str) -> dict:  # type: ignore[type-arg]
    layers = [layout.Blob(layout.WEIGHT, "sha256:" + "a" * 64, 1, p) for p in paths]
    config = layout.Blob(layout.MODEL_CONFIG, "sha256:" + "b" * 64, 2)
    doc: dict = json.loads(layout.model_manifest(config, layers, {}))  # type: ignore[type-arg]
    return doc


def test_model_layers_checks_the_manifest() -> None:
    assert [b.path for b in layout.model_layers(_manifest("a.safetensors", "c.json"))] == [
        "a.safetensors",
        "c.json",
    ]
    with pytest.raises(UsageError, match="two layers"):
        layout.model_layers(_manifest("a", "a"))
    with pytest.raises(UsageError, match="unsafe"):
        layout.model_layers(_manifest("../a"))
    image = _manifest("a") | {"artifactType": None, "config": {"mediaType": "x"}}
    with pytest.raises(UsageError, match="not a ModelPack"):
        layout.model_layers(image)
    no_path = _manifest("a")
    del no_path["layers"][0]["annotations"]
    with pytest.raises(UsageError, match=r"no org\.cncf\.model\.filepath"):
        layout.model_layers(no_path)
