"""The scanner corpus's newer malicious entries: files that reach a pickle load through a
library's own loader (the model-loading surface of Hide-and-Seek, arXiv:2508.19774), and
gadgets outside the usual denylists from public proof-of-concept write-ups. Built from
bytes; payloads are harmless (``true``). The entries whose loader installs here (joblib,
numpy, pandas, pickle, legacy torch) are checked to run in it by
``tests/scan/test_real_loaders.py``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import struct
import tarfile
import zipfile
from collections.abc import Callable

from weightwatch.testing.pickle_bytes import (
    SYSTEM,
    _const,
    _str,
    call,
    legacy_torch,
    stack_global,
    torch_zip,
)

PICKLECLOAK = (
    "Liu et al. (arXiv:2508.19774), PickleCloak artifact (github.com/Lyutoon/PickleCloak): gadget "
    "as named by third-party scanners' regression tests (the artifact is not readable here)"
)
MODELSCAN_338 = (
    "protectai/modelscan issue #338 (T. Haruyama, 2026): in malicious models on Hugging Face"
)
HS = "Liu et al., 'The Art of Hide and Seek' (arXiv:2508.19774, 2025): "
SWEEP = (
    "weightwatch gadget sweep (benchmarks/scanner/loading_paths.py gadgets; docs/scanner.md), "
    "Hide-and-Seek's method on the installed frameworks: "
)


def _body(stream: bytes) -> bytes:
    """A pickle's opcodes without its PROTO and STOP, to splice into another stream."""
    return stream[2:-1]


def joblib_stream(payload_body: bytes, *, object_array: bytes | None = None) -> bytes:
    """What ``joblib.dump([array, payload])`` writes, by hand: a NumpyArrayWrapper whose
    BUILD is followed by the array bytes (or a nested pickle for an object array), then
    ``payload_body``. Built from bytes so nothing live is pickled."""
    dtype = "O8" if object_array is not None else "f8"
    flags = 63 if object_array is not None else 0
    wrapper = (
        stack_global("joblib.numpy_pickle", "NumpyArrayWrapper")
        + b")\x81}("
        + _str("subclass")
        + stack_global("numpy", "ndarray")
        + _str("shape")
        + b"K\x04\x85"
        + _str("order")
        + _str("C")
        + _str("dtype")
        + stack_global("numpy", "dtype")
        + _str(dtype)
        + b"\x89\x88\x87R"
        + b"(K\x03"
        + _str("<")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK"
        + bytes([flags])
        + b"tb"
        + _str("allow_mmap")
        + b"\x88"
        + _str("numpy_array_alignment_bytes")
        + b"K\x10"
        + b"ub"
    )
    head = b"\x80\x04](" + wrapper
    if object_array is not None:
        data = object_array
    else:
        pad = 16 - (len(head) + 1) % 16
        data = bytes([pad]) + b"\xff" * pad + struct.pack("<4d", 1.0, 2.0, 3.0, 4.0)
    return head + data + payload_body + b"e."


def _joblib_zfile(stream: bytes) -> bytes:
    import zlib

    return b"ZF" + hex(len(stream)).encode().ljust(19) + zlib.compress(stream)


def _npz(name: str, npy: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, npy)
    return buf.getvalue()


def _npy_object(pickled: bytes) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + pickled


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _seven_zip_of(name: str, data: bytes) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as z:
        z.writestr(data, name)
    return buf.getvalue()


def _skops(module: str, cls: str) -> bytes:
    """A skops file whose FunctionTransformer holds a function reference (skops' node
    format; loading with trusted=get_untrusted_types() imports it)."""
    schema = {
        "__class__": "FunctionTransformer",
        "__module__": "sklearn.preprocessing._function_transformer",
        "__loader__": "ObjectNode",
        "content": {
            "__class__": "dict",
            "__module__": "builtins",
            "__loader__": "DictNode",
            "content": {
                "func": {
                    "__class__": cls,
                    "__module__": module,
                    "__loader__": "FunctionNode",
                    "__id__": 2,
                }
            },
            "__id__": 1,
        },
        "__id__": 0,
        "protocol": 2,
        "_skops_version": "0.16.0",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
    return buf.getvalue()


def _chain(*steps: tuple[str, str, tuple[str | bytes, ...]]) -> bytes:
    """Several top-level calls in one pickle (each result popped), then None."""
    body = b"".join(_body(call(m, q, *a)) + b"0" for m, q, a in steps)
    return b"\x80\x04" + body + b"N."


def _call_on_result(
    outer: tuple[str, str], inner: tuple[str, str, tuple[str | bytes, ...]], *rest: str
) -> bytes:
    """outer(inner(*args), *rest): a gadget fed another gadget's result."""
    inner_call = _body(call(inner[0], inner[1], *inner[2]))
    return (
        b"\x80\x04"
        + stack_global(*outer)
        + b"("
        + inner_call
        + b"".join(_const(r) for r in rest)
        + b"tR."
    )


def _build_state_gadget(cls: tuple[str, str], nested: bytes) -> bytes:
    """NEWOBJ ``cls`` (no constructor runs) then BUILD with ``(nested, False)``: the shape
    a checkpoint would use, for a class whose ``__setstate__`` unpickles its state."""
    assert len(nested) < 256
    state = b"(C" + bytes([len(nested)]) + nested + b"\x89t"
    return b"\x80\x04" + stack_global(*cls) + b")\x81" + state + b"b."


def _pt2_archive(payload: bytes) -> bytes:
    """A torch.export ``.pt2`` zip as ``torch.export.save`` lays it out, its constants
    config naming one opaque object whose bytes are ``payload``."""
    buf = io.BytesIO()
    config = {"config": {"obj": {"path_name": "opaque_obj_0", "use_pickle": True}}}
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model/archive_format", "pt2")
        zf.writestr("model/archive_version", "0")
        zf.writestr("model/data/constants/model_constants_config.json", json.dumps(config))
        zf.writestr("model/data/constants/opaque_obj_0", payload)
        zf.writestr("model/data/weights/weight_0", torch_zip(payload))
    return buf.getvalue()


def _keras_torch_wrapper(module: bytes) -> bytes:
    """A ``.keras`` zip whose one layer wraps a torch module, as Keras 3 writes it."""
    import base64

    layer = {
        "module": "keras.layers",
        "class_name": "TorchModuleWrapper",
        "config": {"name": "torch_module_wrapper", "module": base64.b64encode(module).decode()},
    }
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": [layer]},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", json.dumps(config))
    return buf.getvalue()


def _compressed_pickle_paths() -> list[tuple[str, str, str, Callable[[], bytes]]]:
    """pandas.read_pickle infers the compression from the file name (pandas docs,
    read_pickle ``compression='infer'``): one entry per inferred codec."""
    import zstandard

    src = HS + "pandas.read_pickle loading path (compression inferred from the extension)"

    def tar_gz() -> bytes:
        return _tar_gz({"frame.pkl": SYSTEM})

    return [
        ("frame.pkl.gz", "pandas.read_pickle of a gzip pickle", src, lambda: gzip.compress(SYSTEM)),
        ("frame.pkl.bz2", "pandas.read_pickle of a bz2 pickle", src, lambda: bz2.compress(SYSTEM)),
        ("frame.pkl.xz", "pandas.read_pickle of an xz pickle", src, lambda: lzma.compress(SYSTEM)),
        (
            "frame.pkl.zst",
            "pandas.read_pickle of a zstd pickle",
            src,
            lambda: zstandard.ZstdCompressor().compress(SYSTEM),
        ),
        ("frame.pkl.tar.gz", "pandas.read_pickle of a tar.gz pickle", src, tar_gz),
    ]


def loading_paths() -> list[tuple[str, str, str, Callable[[], bytes]]]:
    """Files that reach a pickle load through a library's own loader (Hide-and-Seek's
    model-loading surface), each with the payload where that loader finds it."""
    import zlib

    import lz4.frame

    after_array = joblib_stream(_body(SYSTEM) + b"0")
    return [
        (
            "model.joblib",
            "joblib.load: payload after an in-stream NumPy array",
            HS + "joblib.load loading path",
            lambda: after_array,
        ),
        (
            "model-zlib.joblib",
            "joblib.load of a zlib-compressed dump",
            HS + "joblib.load loading path",
            lambda: zlib.compress(after_array),
        ),
        (
            "model-lzma.joblib",
            "joblib.load of a compress='lzma' (.lzma alone) dump",
            HS + "joblib.load loading path",
            lambda: lzma.compress(after_array, format=lzma.FORMAT_ALONE),
        ),
        (
            "model-lz4.joblib",
            "joblib.load of an lz4-compressed dump",
            HS + "joblib.load loading path",
            lambda: lz4.frame.compress(after_array),
        ),
        (
            "model-zfile.pkl",
            "joblib.load of a pre-0.10 ZF compat file",
            "joblib numpy_pickle_compat.read_zfile (joblib.load still reads it)",
            lambda: _joblib_zfile(SYSTEM),
        ),
        (
            "objects.joblib",
            "joblib.load: payload inside an object array's nested pickle",
            HS + "joblib.load loading path",
            lambda: joblib_stream(b"", object_array=SYSTEM),
        ),
        (
            "objects.npz",
            "numpy.load(allow_pickle=True) of an object array in an .npz",
            HS + "numpy.load loading path",
            lambda: _npz("w.npy", _npy_object(SYSTEM)),
        ),
        (
            "frame.pkl.zip",
            "pandas.read_pickle of a zip-compressed pickle",
            HS + "pandas.read_pickle loading path",
            lambda: _npz("frame.pkl", SYSTEM),
        ),
        (
            "model.nemo",
            "NeMo .nemo archive (tar.gz) holding a torch checkpoint",
            HS + "NeMo restore_from loading path",
            lambda: _tar_gz(
                {"model_config.yaml": b"a: 1\n", "model_weights.ckpt": torch_zip(SYSTEM)}
            ),
        ),
        (
            "torchscript.pt",
            "TorchScript/torch.package archive: payload in constants.pkl",
            HS + "torch.jit.load / torch.package loading path",
            lambda: torch_zip(SYSTEM, pkl_name="constants.pkl"),
        ),
        *_compressed_pickle_paths(),
        (
            "model-gzip.joblib",
            "joblib.load of a compress='gzip' dump",
            HS + "joblib.load loading path (joblib numpy_pickle_utils: gzip, bz2, xz, lzma, lz4)",
            lambda: gzip.compress(after_array),
        ),
        (
            "model-bz2.joblib",
            "joblib.load of a compress='bz2' dump",
            HS + "joblib.load loading path (joblib numpy_pickle_utils: gzip, bz2, xz, lzma, lz4)",
            lambda: bz2.compress(after_array),
        ),
        (
            "model-xz.joblib",
            "joblib.load of a compress='xz' dump",
            HS + "joblib.load loading path (joblib numpy_pickle_utils: gzip, bz2, xz, lzma, lz4)",
            lambda: lzma.compress(after_array),
        ),
        (
            "hub-weights.zip",
            "torch.hub legacy zip: one member, extracted and passed to torch.load",
            HS + "torch.hub.load_state_dict_from_url loading path (torch/hub.py _legacy_zip_load)",
            lambda: _npz("resnet18.pth", legacy_torch(SYSTEM)),
        ),
        (
            ".metadata",
            "torch.distributed.checkpoint metadata, unpickled by FileSystemReader",
            "torch.distributed.checkpoint FileSystemReader.read_metadata (torch/distributed/"
            "checkpoint/filesystem.py) unpickles <checkpoint>/.metadata",
            lambda: SYSTEM,
        ),
        (
            "model.pt2",
            "torch.export archive: an opaque constant unpickled by torch.export.load",
            "torch.export.pt2_archive._package._load_constants: opaque_obj_* constants go "
            "to pickle.loads, use_pickle weights to torch.load(weights_only=False) "
            "(found by the loading-path inventory, docs/scanner.md)",
            lambda: _pt2_archive(SYSTEM),
        ),
        (
            "export-artifact.pt",
            "torch.export artifact: weights_only=True raises, the fallback loads unsafely (EOP)",
            HS + "EOP; torch._export.serde.serialize.deserialize_torch_artifact retries "
            "torch.load with weights_only=False after any exception (found by the inventory)",
            lambda: torch_zip(SYSTEM),
        ),
        (
            "__0_0.distcp",
            "torch.distributed.checkpoint data file: a torch.save item after tensor bytes",
            "torch.distributed.checkpoint DefaultLoadPlanner.load_bytes: the byte range "
            ".metadata names goes to torch.load(weights_only=False) (found by the loading-"
            "path inventory, docs/scanner.md)",
            lambda: bytes(256) + torch_zip(SYSTEM),
        ),
        (
            "torch-wrapper.keras",
            "Keras 3 TorchModuleWrapper: a base64 torch.save module in config.json",
            "keras.src.utils.torch_utils.TorchModuleWrapper.from_config: "
            "torch.load(weights_only=False) when loaded with safe_mode=False (found by the "
            "loading-path inventory, docs/scanner.md)",
            lambda: _keras_torch_wrapper(torch_zip(SYSTEM)),
        ),
        (
            "packed.7z",
            "7z-packed torch checkpoint (nullifAI)",
            "ReversingLabs, 'nullifAI' malicious models on Hugging Face (2025)",
            lambda: _seven_zip_of("pytorch_model.bin", torch_zip(SYSTEM)),
        ),
        (
            "eop.pkl",
            "payload then a deliberate exception (Exception-Oriented Programming)",
            HS + "EOP: the loader raises after the payload ran",
            lambda: _body(SYSTEM).join(
                [b"\x80\x04", b"0" + _body(call("builtins", "int", "x")) + b"."]
            ),
        ),
        (
            "hubconf.py",
            "torch.hub entry point running a shell command",
            "torch.hub.load runs hubconf.py (PyTorch docs, torch.hub)",
            lambda: b"import os\n\ndef model():\n    os.system('true')\n",
        ),
        (
            "function.skops",
            "skops FunctionNode naming os.system",
            "skops.io.load with trusted=get_untrusted_types() (skops docs, 'Secure persistence')",
            lambda: _skops("os", "system"),
        ),
    ]


def gadgets() -> list[tuple[str, str, str, Callable[[], bytes]]]:
    """Gadgets outside the usual denylists, written from their public descriptions."""
    hf = "https://huggingface.co/"
    return [
        (
            "pathlib-sourcefileloader.pkl",
            "pathlib.Path.write_text + SourceFileLoader.load_module",
            hf + "EnigmaConsultant/huntr-poc-pickle-pathlib-sourcefileloader-writeload-bypass",
            lambda: _chain(
                ("pathlib", "Path.write_text", ("import os",)),
                ("importlib.machinery", "SourceFileLoader.load_module", ("x",)),
            ),
        ),
        (
            "getattr-static.pkl",
            "importlib.import_module + inspect.getattr_static",
            hf + "xry6/huntr-picklescan-bypass-poc",
            lambda: _call_on_result(
                ("inspect", "getattr_static"), ("importlib", "import_module", ("os",)), "system"
            ),
        ),
        (
            "codeop-functiontype.pkl",
            "codeop.compile_command + types.FunctionType",
            hf + "EnigmaConsultant/huntr-poc-pickle-codeop-functype-bypass",
            lambda: _call_on_result(
                ("types", "FunctionType"), ("codeop", "compile_command", ("print(1)",))
            ),
        ),
        (
            "typing-get-type-hints.pkl",
            "typing.get_type_hints evaluates a forward reference",
            hf + "EnigmaConsultant/huntr-poc-pickle-typing-gettypehints-eval-bypass",
            lambda: _call_on_result(("typing", "get_type_hints"), ("types", "SimpleNamespace", ())),
        ),
        (
            "sh-bash.pkl",
            "module __getattr__ wrapping binaries (sh.bash)",
            hf + "SiggytheShark/pickle-bypass-sh-bash-getattr",
            lambda: call("sh", "bash", "-c", "true"),
        ),
        (
            "posixsubprocess.pkl",
            "_posixsubprocess.fork_exec",
            hf + "wulonchia/picklescan-bypass-posixsubprocess-poc",
            lambda: call("_posixsubprocess", "fork_exec", "true"),
        ),
        (
            "pkgutil-resolve-name.pkl",
            "pkgutil.resolve_name resolves any callable",
            "https://github.com/promptfoo/modelaudit (pkgutil.resolve_name picklescan bypass)",
            lambda: _call_on_result(
                ("pkgutil", "resolve_name"), ("builtins", "str", ("os:system",))
            ),
        ),
        (
            "gzip-forwardref.pkl",
            "gzip.decompress + typing.ForwardRef evaluation",
            hf + "SiggytheShark/pickle-bypass-gzip-decompression-chain",
            lambda: _call_on_result(
                ("typing", "ForwardRef"), ("gzip", "decompress", (gzip.compress(b"1"),))
            ),
        ),
        (
            "numpy-exec-command.pkl",
            "numpy.distutils.exec_command._exec_command runs a command",
            PICKLECLOAK,
            lambda: call("numpy.distutils.exec_command", "_exec_command", "true"),
        ),
        (
            "numpy-f2py-getinit.pkl",
            "numpy.f2py.capi_maps.getinit evaluates an expression",
            PICKLECLOAK,
            lambda: call("numpy.f2py.capi_maps", "getinit", "1", "x"),
        ),
        (
            "attr-chain-next.pkl",
            "next(lib2to3.fixer_util.attr_chain(...)): no literal between lookup and call",
            PICKLECLOAK + " (exp_5/exp_28/exp_88 shape)",
            lambda: _call_on_result(
                ("builtins", "next"),
                ("lib2to3.fixer_util", "attr_chain", ("x", "upper")),
            ),
        ),
        (
            "collect-env-run.pkl",
            "torch.utils.collect_env.run runs a shell command",
            MODELSCAN_338,
            lambda: call("torch.utils.collect_env", "run", "true"),
        ),
        (
            "spawnv-passfds.pkl",
            "multiprocessing.util.spawnv_passfds starts a process",
            MODELSCAN_338,
            lambda: call("multiprocessing.util", "spawnv_passfds", b"/bin/true"),
        ),
        (
            "mlflow-entry-point.pkl",
            "mlflow.projects.backend.local._run_entry_point runs a command",
            MODELSCAN_338,
            lambda: call("mlflow.projects.backend.local", "_run_entry_point", "true", ".", "", ""),
        ),
        (
            "datapipe-wrapper.pkl",
            "torch DataLoader's datapipe wrapper: BUILD state handed to pickle.loads",
            SWEEP + "torch.utils.data.dataloader._IterDataPipeSerializationWrapper -> "
            "torch.utils.data.datapipes.datapipe._DataPipeSerializationWrapper.__setstate__ "
            "-> pickle.loads (a review-prefix class; its nested pickle was never opened)",
            lambda: _build_state_gadget(
                ("torch.utils.data.dataloader", "_IterDataPipeSerializationWrapper"), SYSTEM
            ),
        ),
        (
            "pandas-read-csv.pkl",
            "pandas read_csv of a URL (exfiltration by request)",
            MODELSCAN_338,
            lambda: call("pandas.io.parsers.readers", "read_csv", "http://127.0.0.1:9/?x"),
        ),
    ]
