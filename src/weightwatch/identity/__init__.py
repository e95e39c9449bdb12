"""Content identity: per-file digests and format-invariant weights and value digests.

``compute_manifest(path)`` returns a ``Manifest``: every file's digest (SHA-256 by
default, comparable with OpenSSF model signing; BLAKE3 on request), the *weights digest*
(a Merkle root over per-tensor digests of name, dtype, shape and bytes — the same for
safetensors, ``.bin`` and any sharding) and the *value digest* (which also matches a
GGUF export holding the same values).
"""

from weightwatch.identity.manifest import (
    FileEntry,
    Manifest,
    ManifestDiff,
    TensorEntry,
    compute_manifest,
)

__all__ = ["FileEntry", "Manifest", "ManifestDiff", "TensorEntry", "compute_manifest"]
