"""A labelled corpus for the scanner: techniques from the public bypass record, and benign
files shaped like real checkpoints. Payloads are harmless if ever run (``true``,
``print``); nothing here is ever loaded by weightwatch.

Each malicious entry cites where the technique was published (advisory, CVE or issue).
``build_corpus(out)`` writes every file and returns the labels.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import pickle
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from weightwatch.testing.pickle_bytes import (
    SYSTEM,
    _str,
    call,
    legacy_torch,
    proto0_global,
    proto0_inst,
    stack_global,
    torch_zip,
)

PS = "https://github.com/mmaitre314/picklescan/security/advisories/"


@dataclass(frozen=True)
class Entry:
    name: str
    malicious: bool
    technique: str
    source: str
    path: Path


def _flag_bit_zip(data_pkl: bytes) -> bytes:
    """A torch zip whose data.pkl local header sets flag bit 0 (encrypted) — readers differ."""
    raw = bytearray(torch_zip(data_pkl))
    i = raw.find(b"PK\x03\x04")
    raw[i + 6] |= 0x01
    return bytes(raw)


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _malicious() -> list[tuple[str, str, str, Callable[[], bytes]]]:
    """(file name, technique, source, builder)."""
    m: list[tuple[str, str, str, Callable[[], bytes]]] = [
        (
            "trace-run.pkl",
            "trace.Trace.run executes code",
            PS + "GHSA-5qwp-399c-mjwf",
            lambda: call("trace", "Trace.run", "print(1)"),
        ),
        (
            "trace-runctx.pkl",
            "trace.Trace.runctx executes code",
            PS + "GHSA-g344-hcph-8vgg",
            lambda: call("trace", "Trace.runctx", "print(1)"),
        ),
        (
            "profile-run.pkl",
            "profile.Profile.run executes code",
            PS + "GHSA-x696-vm39-cp64",
            lambda: call("profile", "Profile.run", "print(1)"),
        ),
        (
            "profile-runctx.pkl",
            "profile.Profile.runctx executes code",
            PS + "GHSA-6vqj-c2q5-j97w",
            lambda: call("profile", "Profile.runctx", "print(1)"),
        ),
        (
            "lib2to3-grammar.pkl",
            "lib2to3 Grammar.loads unpickles",
            PS + "GHSA-f54q-57x4-jg88",
            lambda: call("lib2to3.pgen2.grammar", "Grammar.loads", b"\x80\x02N."),
        ),
        (
            "idlelib-objtree.pkl",
            "idlelib.debugobj.ObjectTreeItem",
            PS + "GHSA-3vg9-h568-4w9m",
            lambda: call("idlelib.debugobj", "ObjectTreeItem", "x"),
        ),
        (
            "idlelib-get-entity.pkl",
            "idlelib AutoComplete.get_entity evaluates",
            PS + "GHSA-6w4w-5w54-rjvr",
            lambda: call("idlelib.autocomplete", "AutoComplete.get_entity", "print(1)"),
        ),
        (
            "idlelib-fetch.pkl",
            "idlelib AutoComplete.fetch_completions",
            PS + "GHSA-7cq8-mj8x-j263",
            lambda: call("idlelib.autocomplete", "AutoComplete.fetch_completions", "x"),
        ),
        (
            "torch-bottleneck.pkl",
            "torch.utils.bottleneck run_autograd_prof",
            PS + "GHSA-4whj-rm5r-c2v8",
            lambda: call("torch.utils.bottleneck.__main__", "run_autograd_prof", "print(1)"),
        ),
        (
            "ensurepip.pkl",
            "ensurepip._run_pip",
            PS + "GHSA-xp4f-hrf8-rxw7",
            lambda: call("ensurepip", "_run_pip", "--version"),
        ),
        (
            "lib2to3-make-label.pkl",
            "lib2to3 ParserGenerator.make_label evaluates",
            PS + "GHSA-p9w7-82w4-7q8m",
            lambda: call("lib2to3.pgen2.pgen", "ParserGenerator.make_label", "x"),
        ),
        (
            "idlelib-runcode.pkl",
            "idlelib.run.Executive.runcode",
            PS + "GHSA-m869-42cg-3xwr",
            lambda: call("idlelib.run", "Executive.runcode", "print(1)"),
        ),
        (
            "idlelib-runcommand.pkl",
            "idlelib ModifiedInterpreter.runcommand",
            PS + "GHSA-j343-8v2j-ff7w",
            lambda: call("idlelib.pyshell", "ModifiedInterpreter.runcommand", "print(1)"),
        ),
        (
            "idlelib-pyshell-runcode.pkl",
            "idlelib ModifiedInterpreter.runcode",
            PS + "GHSA-3gf5-cxq9-w223",
            lambda: call("idlelib.pyshell", "ModifiedInterpreter.runcode", "print(1)"),
        ),
        (
            "doctest-debug-script.pkl",
            "doctest.debug_script",
            PS + "GHSA-fqq6-7vqf-w3fg",
            lambda: call("doctest", "debug_script", "print(1)"),
        ),
        (
            "cprofile-runctx.pkl",
            "cProfile.runctx",
            PS + "GHSA-9w88-8rmg-7g2p",
            lambda: call("cProfile", "runctx", "print(1)"),
        ),
        (
            "timeit.pkl",
            "timeit.timeit executes a statement",
            PS + "GHSA-v7x6-rv5q-mhwc",
            lambda: call("timeit", "timeit", "print(1)"),
        ),
        (
            "pip-main.pkl",
            "pip.main installs packages",
            "CVE-2025-1716",
            lambda: call("pip", "main", "--version"),
        ),
        (
            "operator-attrgetter.pkl",
            "operator.attrgetter gadget",
            PS + "GHSA-m273-6v24-x4m4",
            lambda: call("_operator", "attrgetter", "system"),
        ),
        (
            "operator-methodcaller.pkl",
            "_operator.methodcaller gadget",
            PS + "GHSA-955r-x9j8-7rhh",
            lambda: call("_operator", "methodcaller", "system", "true"),
        ),
        (
            "asyncio-transport.pkl",
            "asyncio subprocess transport (subclass of a denied import)",
            "CVE-2025-10157",
            lambda: call("asyncio.unix_events", "_UnixSubprocessTransport._start", "true"),
        ),
        (
            "nested-pickle.pkl",
            "pickle.loads of an embedded pickle",
            PS + "GHSA-84r2-jw7c-4r5q",
            lambda: call("_pickle", "loads", SYSTEM),
        ),
        (
            "nested-pickle-modelscan.pkl",
            "pickle.loads nested payload missed by modelscan",
            "https://github.com/protectai/modelscan/issues/267",
            lambda: call("pickle", "loads", proto0_global("builtins", "print", "exploited")),
        ),
        (
            "venv-create.pkl",
            "venv package manipulation",
            PS + "GHSA-vqmv-47xg-9wpr",
            lambda: call("venv", "create", "ww-corpus-venv"),
        ),
        (
            "http-client.pkl",
            "network modules (http.client)",
            PS + "GHSA-hgrh-qx5j-jfwx",
            lambda: call("http.client", "HTTPConnection", "127.0.0.1"),
        ),
        (
            "idlelib-lib2to3.pkl",
            "IDE tool modules (idlelib)",
            PS + "GHSA-r8g5-cgf2-4m4m",
            lambda: call("idlelib.calltip", "get_entity", "print(1)"),
        ),
        (
            "numpy-f2py.pkl",
            "numpy.f2py crackfortran getlincoef evaluates",
            "https://github.com/trailofbits/fickling/pull/210",
            lambda: call("numpy.f2py.crackfortran", "getlincoef", "1", "x"),
        ),
        (
            "functools-partial.pkl",
            "functools.partial wrapper around a callable",
            "https://github.com/trailofbits/fickling/pull/210",
            lambda: (
                b"\x80\x04"
                + stack_global("functools", "partial")
                + stack_global("posix", "system")
                + b"\x85R"
                + _str("true")
                + b"\x85R."
            ),
        ),
        (
            "memo-stack-global.pkl",
            "STACK_GLOBAL names fetched through the memo",
            "https://github.com/mmaitre314/picklescan/issues/22",
            lambda: (
                b"\x80\x04"
                + _str("posix")
                + b"\x94"
                + _str("system")
                + b"\x94h\x00h\x01\x93"
                + _str("true")
                + b"\x85R."
            ),
        ),
        (
            "pdb-run.pkl",
            "pdb.run debugger executes code",
            PS + "GHSA-46h3-79wf-xr6c",
            lambda: call("pdb", "run", "print(1)"),
        ),
        (
            "bdb-run.pkl",
            "bdb.Bdb.run executes code",
            PS + "GHSA-4675-36f9-wf6r",
            lambda: call("bdb", "Bdb.run", "print(1)"),
        ),
        (
            "pkgutil-resolve.pkl",
            "pkgutil.resolve_name trampoline",
            "https://github.com/promptfoo/modelaudit/pull/581",
            lambda: call("pkgutil", "resolve_name", "os:system"),
        ),
        (
            "uuid-popen.pkl",
            "uuid._get_command_stdout runs a command",
            "https://github.com/promptfoo/modelaudit/pull/581",
            lambda: call("uuid", "_get_command_stdout", "true"),
        ),
        (
            "zip-flag-bit.bin",
            "zip flag bit makes picklescan fail while torch loads",
            PS + "GHSA-w8jq-xcqf-f792",
            lambda: _flag_bit_zip(SYSTEM),
        ),
        (
            "renamed-pkl.bin",
            "PyTorch zip with a non-standard pickle member name",
            PS + "GHSA-769v-p64c-89pr",
            lambda: torch_zip(SYSTEM, pkl_name="weights.data"),
        ),
        (
            "broken-pickle.pkl",
            "payload before a deliberately broken tail (nullifAI)",
            "ReversingLabs, 'nullifAI' malicious models on Hugging Face (2025)",
            lambda: SYSTEM[:-1] + b"\x93garbage",
        ),
        (
            "second-stream.pkl",
            "payload in a second pickle after STOP",
            "https://github.com/promptfoo/modelaudit/pull/581",
            lambda: b"\x80\x02}q\x00." + SYSTEM,
        ),
        (
            "legacy-torch.bin",
            "payload in a legacy torch.save file",
            "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-769v-p64c-89pr",
            lambda: legacy_torch(SYSTEM),
        ),
        (
            "runpy.pkl",
            "runpy._run_code executes a code string",
            "https://github.com/trailofbits/fickling/pull/210",
            lambda: call("runpy", "_run_code", "print(1)", b""),
        ),
        (
            "proto0-inst.pkl",
            "protocol 0 INST of os.system",
            "https://github.com/mmaitre314/picklescan/issues/22",
            lambda: proto0_inst("os", "system", "true"),
        ),
        (
            "gzip-pickle.pt.gz",
            "pickle hidden in a gzip stream",
            PS + "GHSA-769v-p64c-89pr",
            lambda: gzip.compress(SYSTEM),
        ),
        (
            "tar-hidden.tar",
            "pickle under an innocent name inside a tar",
            PS + "GHSA-769v-p64c-89pr",
            lambda: _tar("docs/readme.txt", SYSTEM),
        ),
        (
            "bz2-pickle.bin",
            "pickle in a bzip2 stream",
            "ReversingLabs, 'nullifAI' malicious models on Hugging Face (2025)",
            lambda: bz2.compress(SYSTEM),
        ),
        (
            "xz-pickle.bin",
            "pickle in an xz stream",
            "ReversingLabs, 'nullifAI' malicious models on Hugging Face (2025)",
            lambda: lzma.compress(SYSTEM),
        ),
        (
            "template-escape.json",
            "chat template sandbox escape via cycler.__init__.__globals__",
            "CVE-2024-34359 (llama-cpp-python Jinja2 chat template SSTI)",
            lambda: json.dumps(
                {"chat_template": "{{ cycler.__init__.__globals__.os.popen('true').read() }}"}
            ).encode(),
        ),
        (
            "lambda.keras",
            "Keras Lambda layer with marshalled bytecode",
            "CVE-2024-3660",
            _keras_lambda,
        ),
        (
            "external.onnx",
            "ONNX external data path escaping the folder",
            "CVE-2024-27318",
            lambda: _onnx_external("../../../etc/passwd"),
        ),
    ]
    from weightwatch.testing.scan_corpus_paths import gadgets, loading_paths

    return m + loading_paths() + gadgets()


def _keras_lambda() -> bytes:
    layer = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": "l",
            "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}},
        },
    }
    config = {"module": "keras", "class_name": "Functional", "config": {"layers": [layer]}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        zf.writestr("config.json", json.dumps(config))
    return buf.getvalue()


def _onnx_external(location: str) -> bytes:
    loc = location.encode()
    entry = b"\x0a\x08location\x12" + bytes([len(loc)]) + loc
    tensor = b"\x2a" + bytes([len(entry)]) + entry
    return b"\x08\x07\x12\x04onnx\x3a" + bytes([len(tensor)]) + tensor


def _benign_builders() -> list[tuple[str, Callable[[Path], object]]]:
    import numpy as np
    import torch

    torch.manual_seed(0)
    layers = {
        "linear": torch.nn.Linear(16, 8),
        "conv": torch.nn.Conv2d(3, 4, 3),
        "lstm": torch.nn.LSTM(8, 8),
        "embedding": torch.nn.Embedding(32, 8),
        "encoder": torch.nn.TransformerEncoderLayer(16, 2, 32),
        "bn": torch.nn.BatchNorm1d(8),
    }
    out: list[tuple[str, Callable[[Path], object]]] = []

    def save(obj: object, *, legacy: bool = False) -> Callable[[Path], object]:
        return lambda p: torch.save(obj, p, _use_new_zipfile_serialization=not legacy)

    for name, layer in layers.items():
        out.append((f"{name}.pt", save(layer.state_dict())))
        out.append((f"{name}-legacy.pt", save(layer.state_dict(), legacy=True)))
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 1))
    model(torch.ones(2, 4)).sum().backward()
    for opt_name, opt in (
        ("adam", torch.optim.Adam(model.parameters())),
        ("sgd", torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)),
        ("adamw", torch.optim.AdamW(model.parameters())),
    ):
        opt.step()
        sched = torch.optim.lr_scheduler.StepLR(opt, 10)
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "epoch": 3,
            "best": 0.5,
        }
        out.append((f"ckpt-{opt_name}.pt", save(state)))
    out += [
        ("arrays.npy", lambda p: np.save(p, np.arange(100, dtype=np.float32))),
        ("arrays.npz", lambda p: np.savez(p, a=np.ones(3), b=np.zeros((2, 2)))),
        ("arrays-c.npz", lambda p: np.savez_compressed(p, a=np.ones(3))),
        ("np-p2.pkl", lambda p: p.write_bytes(pickle.dumps({"w": np.ones((2, 2))}, protocol=2))),
        ("np-p4.pkl", lambda p: p.write_bytes(pickle.dumps([np.arange(5)], protocol=4))),
        (
            "np-p5.pkl",
            lambda p: p.write_bytes(pickle.dumps({"x": np.zeros(4, np.float16)}, protocol=5)),
        ),
        (
            "plain-p0.pkl",
            lambda p: p.write_bytes(pickle.dumps({"lr": 0.1, "steps": [1, 2]}, protocol=0)),
        ),
        (
            "plain-p3.pkl",
            lambda p: p.write_bytes(pickle.dumps({"vocab": {"a": 1}, "set": {1, 2}}, protocol=3)),
        ),
        (
            "tokenizer_config.json",
            lambda p: p.write_text(
                json.dumps(
                    {
                        "chat_template": (
                            "{{ bos_token }}{% set ns = namespace(sys='') %}"
                            "{% for m in messages %}{% if m['role'] == 'system' %}"
                            "{% set ns.sys = m['content'] %}{% else %}<|{{ m['role'] }}|>"
                            "{{ (ns.sys ~ m['content']) | trim }}{% endif %}{% endfor %}"
                            "{% if add_generation_prompt %}<|assistant|>{% endif %}"
                        ),
                        "bos_token": "<s>",
                    }
                )
            ),
        ),
        (
            "config.json",
            lambda p: p.write_text(json.dumps({"model_type": "llama", "hidden_size": 64})),
        ),
    ]
    return out


def build_corpus(out: Path, *, families: list[Path] | None = None) -> list[Entry]:
    """Write the corpus under ``out``; ``families`` adds whole tiny-model folders as benign."""
    (out / "malicious").mkdir(parents=True, exist_ok=True)
    (out / "benign").mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []
    for name, technique, source, build in _malicious():
        p = out / "malicious" / name
        p.write_bytes(build())
        entries.append(Entry(name, True, technique, source, p))
    for name, write in _benign_builders():
        p = out / "benign" / name
        write(p)
        entries.append(Entry(name, False, "benign", "", p))
    for folder in families or []:
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.name != "COMPLETE":  # the fixture cache's own marker
                entries.append(
                    Entry(
                        f"{folder.name}/{f.relative_to(folder)}",
                        False,
                        "benign (tiny model family)",
                        "",
                        f,
                    )
                )
    return entries
