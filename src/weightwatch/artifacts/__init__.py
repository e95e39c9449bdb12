"""Reading model artifacts without executing them.

``open_artifact(path)`` takes a file or a Hugging Face–style folder and returns an
``Artifact``: every file with its format detected from content, parsed metadata
(config, tokenizer, model card, adapter, GGUF key-values), lazy read-only tensors for
safetensors, GGUF, PyTorch (zip and legacy, via a restricted unpickler), NumPy and PEFT
adapters, and totals. Weights inside compressors, archives or split parts are found by
content (``unwrap``); quantized safetensors layouts are folded into logical weights
(``Artifact.model_tensors``). Anything unreadable raises ``ArtifactError`` naming the
file; ``check_weights`` says whether a path declares a model and whether its weights
were seen, without raising.
"""

from weightwatch.artifacts.artifact import Artifact, Totals
from weightwatch.artifacts.detect import detect_format
from weightwatch.artifacts.hfrepo import AdapterInfo, CardInfo, ConfigInfo, TokenizerInfo
from weightwatch.artifacts.inspectable import WeightsStatus, check_weights
from weightwatch.artifacts.limits import UnpackLimits
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
    "UnpackLimits",
    "WeightsStatus",
    "bf16_to_f32",
    "check_weights",
    "detect_format",
    "open_artifact",
]
