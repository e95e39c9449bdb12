"""The real loaders, in a sandboxed worker process, for the differential tests.

Run as ``python sandbox_loader.py``: reads one JSON job per line on stdin
(``{"kind": "pickle|torch|joblib|numpy|pandas|torch-hub-zip|torch-dcp|torch-export-artifact", "path": ...}``) and answers one JSON line
each: the globals the loader's unpickler resolved (``pickle.find_class`` audit events),
the dangerous actions it attempted, and the error it ended with.

The policy, enforced by an audit hook installed after the loaders are imported: no
process (``os.system``, ``subprocess``, ``exec*``, ``spawn``, ``fork``), no socket, no
import of a module not already loaded — each raises before it happens, so a payload is
observed, never run. Plus a CPU-time limit per job, an address-space cap, and a throwaway
working directory chosen by the parent.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import warnings

warnings.filterwarnings("ignore")

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

try:
    import pandas as pd
except ImportError:  # pandas is optional for the fuzz seeds
    pd = None
try:  # the loaders' own lazy imports, loaded before the import policy starts
    import bz2  # noqa: F401
    import hashlib  # noqa: F401
    import lzma  # noqa: F401
    import zipfile  # noqa: F401

    import gguf  # noqa: F401
    import safetensors.torch  # noqa: F401
    import torch._export.serde.serialize
    import torch.distributed.checkpoint
    import zstandard  # noqa: F401
except ImportError:
    pass

BLOCKED = ("os.system", "os.exec", "os.spawn", "os.fork", "os.posix_spawn", "subprocess.Popen")
state: dict[str, object] = {"on": False, "globals": [], "attempts": []}


def hook(event: str, args: tuple) -> None:
    if not state["on"]:
        return
    if event == "pickle.find_class":
        state["globals"].append([str(args[0]), str(args[1])])  # type: ignore[union-attr]
    elif event.startswith(BLOCKED) or event in ("socket.connect", "socket.bind"):
        state["attempts"].append(event)  # type: ignore[union-attr]
        raise PermissionError(f"sandbox: {event} blocked")
    elif event == "import" and args[0] not in sys.modules and not _own(str(args[0])):
        state["attempts"].append(f"import {args[0]}")  # type: ignore[union-attr]
        raise PermissionError(f"sandbox: import of {args[0]} blocked")


def _own(module: str) -> bool:
    """The loaders' own lazy imports (torch.utils.serialization, a zip name codec)."""
    return module.split(".")[0] in ("torch", "numpy", "joblib", "pandas", "encodings")


def load(kind: str, path: str) -> None:
    if kind == "pickle":
        with open(path, "rb") as f:
            import pickle

            pickle.load(f)  # noqa: TID251 (the sandboxed real loader under test)
    elif kind == "torch":
        torch.load(path, weights_only=False, map_location="cpu")  # noqa: TID251
    elif kind == "joblib":
        joblib.load(path)
    elif kind == "numpy":
        loaded = np.load(path, allow_pickle=True)
        if hasattr(loaded, "files"):
            for name in loaded.files:
                loaded[name]
    elif kind == "pandas" and pd is not None:
        pd.read_pickle(path)
    elif kind == "torch-hub-zip":  # what load_state_dict_from_url does with a zip download
        torch.hub._legacy_zip_load(path, os.getcwd(), "cpu", weights_only=False)
    elif kind == "torch-export-artifact":  # weights_only=True, then False on any error
        from torch._export.serde.serialize import deserialize_torch_artifact

        with open(path, "rb") as f:
            deserialize_torch_artifact(f.read())
    elif kind == "torch-dcp":  # a distributed checkpoint folder's .metadata
        from torch.distributed.checkpoint import FileSystemReader

        FileSystemReader(os.path.dirname(path)).read_metadata()


def view(kind: str, path: str) -> object:
    """What a real format reader sees in a file: its names, shapes, offsets and the hash of
    each piece of data it would hand on (for the format differential tests)."""
    if kind == "view-safetensors":
        from safetensors import safe_open

        with safe_open(path, framework="pt") as f:
            tensors = {}
            for k in f.keys():  # noqa: SIM118 (safe_open is not iterable)
                t = f.get_tensor(k).contiguous()
                raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
                tensors[k] = [f.get_slice(k).get_dtype(), list(t.shape), _sha(raw)]
            return {"metadata": f.metadata() or {}, "tensors": tensors}
    if kind == "view-gguf":
        from gguf import GGUFReader, GGUFValueType

        r = GGUFReader(path)
        fields = {}
        for name, field in r.fields.items():
            if name.startswith("GGUF."):
                continue
            kind_ = field.types[0] if field.types else None
            if kind_ == GGUFValueType.ARRAY:
                fields[name] = ["array", len(field.data)]
            else:
                value = field.contents()
                fields[name] = [int(kind_), value if not isinstance(value, float) else repr(value)]
        tensors = {
            t.name: [
                int(t.tensor_type),
                [int(d) for d in t.shape],
                int(t.data_offset),
                int(t.n_bytes),
            ]
            for t in r.tensors
        }
        return {"fields": fields, "tensors": tensors, "alignment": int(r.alignment)}
    if kind == "view-zipfile":
        import zipfile

        out = {}
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                try:
                    out[info.filename] = _sha(zf.read(info))
                except Exception as exc:  # a member Python refuses (CRC, flags…)
                    out[info.filename] = f"error {type(exc).__name__}: {exc}"[:120]
        return out
    if kind == "view-torchzip":
        reader = torch._C.PyTorchFileReader(path)
        return {name: _sha(reader.get_record(name)) for name in reader.get_all_records()}
    raise ValueError(kind)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()[:16]


def _timeout(signum: int, frame: object) -> None:
    raise TimeoutError("sandbox: job took too long")


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    signal.signal(signal.SIGALRM, _timeout)
    sys.addaudithook(hook)
    for line in sys.stdin:
        job = json.loads(line)
        state["globals"], state["attempts"] = [], []
        error = None
        signal.alarm(10)
        state["on"] = True
        seen = None
        try:
            if job["kind"].startswith("view-"):
                seen = view(job["kind"], job["path"])
            else:
                load(job["kind"], job["path"])
        except BaseException as exc:  # everything a mutant can make a loader raise
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        finally:
            state["on"] = False
            signal.alarm(0)
        out = {
            "globals": state["globals"],
            "attempts": state["attempts"],
            "error": error,
            "view": seen,
        }
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    os.environ.pop("http_proxy", None)
    main()
