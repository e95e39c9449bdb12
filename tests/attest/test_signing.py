"""Keys, signed bundles, and interoperability with the real OpenSSF `model_signing` package."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from weightwatch.attest import (
    generate,
    load_signer,
    load_verifier,
    save_keypair,
    sign_model,
    verify_model,
)
from weightwatch.cli import main
from weightwatch.errors import UsageError, VerificationError


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    save_file({"w": np.arange(64, dtype=np.float32).reshape(8, 8)}, root / "model.safetensors")
    (root / "config.json").write_text('{"model_type": "llama"}')
    (root / "sub" / "notes.txt").write_text("hello")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")  # ignored, as model_signing does
    return root


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-p256"])
@pytest.mark.parametrize("password", [None, b"correct horse"])
def test_keys_round_trip(tmp_path, kind, password):
    signer = generate(kind)
    pub = save_keypair(signer, tmp_path / "k.pem", password=password)
    again = load_signer(tmp_path / "k.pem", password=password)
    verifier = load_verifier(pub)
    assert again.key_id == signer.key_id == verifier.key_id
    verifier.verify(b"msg", again.sign(b"msg"))
    with pytest.raises(VerificationError):
        verifier.verify(b"other", again.sign(b"msg"))
    if password:
        with pytest.raises(UsageError):
            load_signer(tmp_path / "k.pem", password=b"wrong")


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-p256"])
def test_sign_verify_and_tamper(tmp_path, model, kind):
    signer = generate(kind)
    pub = save_keypair(signer, tmp_path / "k.pem")
    bundle = sign_model(model, signer)
    names = [
        r["name"]
        for r in json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))["predicate"][
            "resources"
        ]
    ]
    assert names == ["config.json", "model.safetensors", "sub/notes.txt"]
    ok = verify_model(model, bundle, load_verifier(pub))
    assert ok.ok and ok.weights_ok
    data = bytearray((model / "model.safetensors").read_bytes())
    data[-3] ^= 0x10
    (model / "model.safetensors").write_bytes(bytes(data))
    (model / "sub" / "notes.txt").unlink()
    (model / "extra.py").write_text("import os")
    bad = verify_model(model, bundle, load_verifier(pub))
    assert not bad.ok
    assert (bad.changed, bad.missing, bad.added) == (
        ["model.safetensors"],
        ["sub/notes.txt"],
        ["extra.py"],
    )
    assert bad.weights_ok is False


def test_wrong_key_and_forged_payload(tmp_path, model):
    signer, other = generate(), generate()
    save_keypair(other, tmp_path / "o.pem")
    bundle = sign_model(model, signer)
    with pytest.raises(VerificationError, match="another key"):
        verify_model(model, bundle, load_verifier(tmp_path / "o.pub"))
    bundle["verificationMaterial"]["publicKey"]["hint"] = other.key_id
    with pytest.raises(VerificationError, match="signature invalid"):
        verify_model(model, bundle, load_verifier(tmp_path / "o.pub"))
    save_keypair(signer, tmp_path / "s.pem")
    good = sign_model(model, signer)
    stmt = json.loads(base64.b64decode(good["dsseEnvelope"]["payload"]))
    stmt["predicate"]["resources"][0]["digest"] = "00" * 32
    good["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    with pytest.raises(VerificationError, match="signature invalid"):
        verify_model(model, good, load_verifier(tmp_path / "s.pub"))


def _ms(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model_signing", *args], capture_output=True, text=True, timeout=300
    )


def test_weightwatch_verifies_model_signing_bundle(tmp_path, model):
    subprocess.run(
        [
            "openssl",
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            str(tmp_path / "key.pem"),
        ],
        check=True,
    )
    subprocess.run(
        [
            "openssl",
            "ec",
            "-in",
            str(tmp_path / "key.pem"),
            "-pubout",
            "-out",
            str(tmp_path / "pub.pem"),
        ],
        check=True,
        capture_output=True,
    )
    r = _ms(
        "sign",
        "key",
        str(model),
        "--private_key",
        str(tmp_path / "key.pem"),
        "--signature",
        str(tmp_path / "model.sig"),
    )
    assert r.returncode == 0, r.stderr
    bundle = json.loads((tmp_path / "model.sig").read_text())
    result = verify_model(model, bundle, load_verifier(tmp_path / "pub.pem"))
    assert result.ok and result.weights_ok is None  # model_signing records no weights identity
    (model / "config.json").write_text("{}")
    assert verify_model(model, bundle, load_verifier(tmp_path / "pub.pem")).changed == [
        "config.json"
    ]


def test_model_signing_verifies_weightwatch_bundle(tmp_path, model):
    signer = generate("ecdsa-p256")
    pub = save_keypair(signer, tmp_path / "k.pem")
    sig = tmp_path / "ww.sig"
    sig.write_text(json.dumps(sign_model(model, signer)))
    r = _ms("verify", "key", str(model), "--signature", str(sig), "--public_key", str(pub))
    assert r.returncode == 0, r.stdout + r.stderr
    (model / "sub" / "notes.txt").write_text("changed")
    r = _ms("verify", "key", str(model), "--signature", str(sig), "--public_key", str(pub))
    assert r.returncode != 0


def test_cli_keygen_sign_verify(tmp_path, model, capsys):
    key = tmp_path / "key"
    assert main(["keygen", str(key)]) == 0
    assert main(["sign", str(model), "--key", str(key)]) == 0
    assert (model / "model.sig").exists()
    assert (
        main(
            [
                "verify",
                str(model),
                "--bundle",
                str(model / "model.sig"),
                "--pub",
                str(key.with_suffix(".pub")),
            ]
        )
        == 0
    )
    (model / "config.json").write_text("{}")
    capsys.readouterr()
    assert (
        main(
            [
                "verify",
                str(model),
                "--bundle",
                str(model / "model.sig"),
                "--pub",
                str(key.with_suffix(".pub")),
                "--json",
            ]
        )
        == 1
    )
    assert json.loads(capsys.readouterr().out)["changed"] == ["config.json"]
    assert main(["keygen", str(key)]) == 2  # never overwrites a key
    shutil.rmtree(model)
