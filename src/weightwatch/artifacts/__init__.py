"""Reading model artifacts without executing them.

``open_artifact(path)`` takes a file or a Hugging Face–style folder and returns an
``Artifact``: every file with its format detected from content, parsed metadata
(config, tokenizer, model card, adapter, GGUF key-values), lazy read-only tensors for
safetensors, GGUF, PyTorch (zip and legacy, via a restricted unpickler), NumPy and PEFT
adapters, and totals. Anything unreadable raises ``ArtifactError`` naming the file.
"""

from weightwatch.artifacts.artifact import Artifact, Totals
from weightwatch.artifacts.detect import detect_format
from weightwatch.artifacts.hfrepo import AdapterInfo, CardInfo, ConfigInfo, TokenizerInfo
from weightwatch.artifacts.model import (
    DTYPES,
    ArtifactFile,
    FileFormat,
    Tensor,
    TensorInfo,
    bf16_to_f32,
)
from weightwatch.artifacts.opening import open_artifact

__all__ = [
    "DTYPES",
    "AdapterInfo",
    "Artifact",
    "ArtifactFile",
    "CardInfo",
    "ConfigInfo",
    "FileFormat",
    "Tensor",
    "TensorInfo",
    "TokenizerInfo",
    "Totals",
    "bf16_to_f32",
    "detect_format",
    "open_artifact",
]
