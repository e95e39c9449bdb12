"""Small hand-built artifact files for reader and adversarial tests."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np


def safetensors_bytes(tensors: dict[str, np.ndarray], *, header: dict | None = None) -> bytes:
    """Serialise like the reference implementation (or with a forged header)."""
    names = {
        np.dtype("<f4"): "F32",
        np.dtype("<f2"): "F16",
        np.dtype("<i8"): "I64",
        np.dtype("i1"): "I8",
        np.dtype("u1"): "U8",
    }
    hdr: dict = {}
    blobs = []
    off = 0
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr).tobytes()
        hdr[name] = {
            "dtype": names[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [off, off + len(b)],
        }
        blobs.append(b)
        off += len(b)
    if header is not None:
        hdr = header
    raw = json.dumps(hdr).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(blobs)


class Payload:
    """Pickles to a call of ``func(*args)`` — harmless targets only in tests."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def malicious_pickles(marker: Path) -> dict[str, bytes]:
    """Pickles that would run something if loaded by a normal unpickler."""
    import builtins
    import os
    import subprocess

    out = {
        "posix.system": pickle.dumps(Payload(os.system, f"touch {marker}"), protocol=2),
        "subprocess.Popen": pickle.dumps(
            Payload(subprocess.Popen, ["touch", str(marker)]), protocol=4
        ),
        "builtins.exec": pickle.dumps(
            Payload(builtins.exec, f"open({str(marker)!r}, 'w')"),  # noqa: TID251 (pickled only)
            protocol=3,
        ),
        "__builtin__.eval": pickle.dumps(
            Payload(builtins.eval, "1+1"),  # noqa: TID251 (pickled only, never called)
            protocol=0,
        ),
    }
    # import of a module named by the file, resolved through STACK_GLOBAL (protocol 4)
    out["importlib.import_module"] = (
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00"
        b"\x8c\x09importlib\x94\x8c\x0dimport_module\x94\x93\x94"
        b"\x8c\x0bww_evil_mod\x94\x85\x94R\x94."
    )
    return out


def torch_zip_with_pickle(data_pkl: bytes, name: str = "archive") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{name}/data.pkl", data_pkl)
        zf.writestr(f"{name}/byteorder", b"little")
        zf.writestr(f"{name}/version", b"3\n")
    return buf.getvalue()


def legacy_torch_with_pickle(data_pkl: bytes) -> bytes:
    """The legacy torch.save layout (magic, protocol, sys info) around a given main pickle."""
    sys_info = {
        "protocol_version": 1001,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    head = b"".join(pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, sys_info))
    return head + data_pkl + pickle.dumps([], protocol=2)
