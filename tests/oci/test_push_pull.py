"""push → pull through a real CNCF distribution registry: byte-identical files, read
back by a second client (skopeo) too; a tampered blob, a missing or misattached
referrer, or the wrong key make pull exit 2 and write nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.oci.conftest import OciRegistry
from weightwatch.attest import generate, save_keypair
from weightwatch.attest.bundle import verify_model
from weightwatch.attest.keys import KeyVerifier
from weightwatch.cli import main
from weightwatch.oci import layout
from weightwatch.registry import Registry

pytestmark = pytest.mark.slow


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pushed(oci: OciRegistry, source: tuple[Registry, Path], ref: str, repo: str, capsys) -> dict:  # type: ignore[no-untyped-def,type-arg]
    _, root = source
    capsys.readouterr()
    assert (
        main(["oci", "push", ref, f"{oci.host}/{repo}:v1", "--registry", str(root), "--json"]) == 0
    )
    out: dict = json.loads(capsys.readouterr().out)  # type: ignore[type-arg]
    return out


def nothing_written(out: Path) -> bool:
    return not out.exists() and not list(out.parent.glob(f".{out.name}.pull-*"))


def test_round_trip_is_byte_identical(oci_registry, source, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    reg, root = source
    done = pushed(oci_registry, source, "org/ft@1", "org/ft", capsys)
    out = tmp_path / "pulled"
    args = [
        "oci",
        "pull",
        f"{oci_registry.host}/org/ft:v1",
        "-o",
        str(out),
        "--registry",
        str(root),
    ]
    assert main(args) == 0
    files = reg.files(reg.version_id("org/ft"))
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        f.path for f in files
    )
    for f in files:
        assert sha256(out / f.path) == f.sha256
    # the manifest is a ModelPack one, by digest
    r = httpx.get(
        f"http://{oci_registry.host}/v2/org/ft/manifests/v1",
        headers={"Accept": layout.MANIFEST},
    )
    assert "sha256:" + hashlib.sha256(r.content).hexdigest() == done["digest"]
    manifest = r.json()
    assert manifest["artifactType"] == layout.MODEL_ARTIFACT
    assert manifest["config"]["mediaType"] == layout.MODEL_CONFIG
    kinds = {x["annotations"][layout.FILEPATH]: x["mediaType"] for x in manifest["layers"]}
    assert kinds["model.safetensors"] == layout.WEIGHT
    assert kinds["config.json"] == layout.WEIGHT_CONFIG
    assert kinds["README.md"] == layout.DOC


def test_a_second_client_reads_the_artifact_and_its_referrer(
    oci_registry, source, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo not installed (apt-get install skopeo)")
    reg, _ = source
    done = pushed(oci_registry, source, "org/base@1", "org/base", capsys)
    copy = tmp_path / "skopeo"
    base = ["--src-tls-verify=false"]
    src = f"docker://{oci_registry.host}/org/base"
    subprocess.run([skopeo, "copy", *base, f"{src}:v1", f"dir:{copy}"], check=True, timeout=300)
    for f in reg.files(reg.version_id("org/base")):
        assert sha256(copy / f.sha256) == f.sha256  # skopeo's dir layout names blobs by digest
    assert "sha256:" + sha256(copy / "manifest.json") == done["digest"]
    # the referrer, fetched by skopeo by its digest, carries a bundle that verifies
    sig = tmp_path / "sig"
    subprocess.run(
        [skopeo, "copy", *base, f"{src}@{done['signature']}", f"dir:{sig}"], check=True, timeout=300
    )
    referrer = json.loads((sig / "manifest.json").read_text())
    assert referrer["subject"]["digest"] == done["digest"]
    bundle_digest = referrer["layers"][0]["digest"].removeprefix("sha256:")
    bundle = json.loads((sig / bundle_digest).read_text())
    signer = reg.store.signer
    result = verify_model(
        copy_as_files(copy, reg), bundle, KeyVerifier(signer.public_key, signer.key_id)
    )
    assert result.ok


def copy_as_files(copy: Path, reg: Registry) -> Path:
    """skopeo's digest-named blobs laid out under their file names."""
    out = copy / "files"
    for f in reg.files(reg.version_id("org/base")):
        (out / f.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copy / f.sha256, out / f.path)
    return out


def test_tampered_blob_fails_with_nothing_written(oci_registry, source, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    reg, root = source
    pushed(oci_registry, source, "org/ft@1", "tamper/ft", capsys)
    weights = next(f for f in reg.files(reg.version_id("org/ft")) if f.path == "model.safetensors")
    blob = oci_registry.blob_file(weights.sha256)
    original = blob.read_bytes()
    try:
        data = bytearray(original)
        data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
        blob.write_bytes(bytes(data))
        out = tmp_path / "pulled"
        args = ["oci", "pull", f"{oci_registry.host}/tamper/ft:v1", "-o", str(out)]
        assert main([*args, "--registry", str(root)]) == 2
        assert "does not match its digest" in capsys.readouterr().err
        assert nothing_written(out)
    finally:
        blob.write_bytes(original)  # the blob store is shared by content with other repos


def test_missing_referrer_fails_with_nothing_written(
    oci_registry, source, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    _, root = source
    done = pushed(oci_registry, source, "org/ft@1", "nosig/ft", capsys)
    url = f"http://{oci_registry.host}/v2/nosig/ft/manifests"
    tag = done["digest"].replace(":", "-")
    index = httpx.get(f"{url}/{tag}", headers={"Accept": layout.INDEX})
    assert index.status_code == 200
    digest = "sha256:" + hashlib.sha256(index.content).hexdigest()
    assert httpx.delete(f"{url}/{digest}").status_code == 202
    out = tmp_path / "pulled"
    args = ["oci", "pull", f"{oci_registry.host}/nosig/ft:v1", "-o", str(out)]
    assert main([*args, "--registry", str(root)]) == 2
    assert "no signature bundle is attached" in capsys.readouterr().err
    assert nothing_written(out)


def test_a_referrer_moved_to_another_manifest_is_refused(
    oci_registry, source, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """A forged manifest (the fine-tune's files with the base's weights) under the
    signed tag, with the genuine referrer index copied to its fallback tag."""
    reg, root = source
    done = pushed(oci_registry, source, "org/ft@1", "forged/ft", capsys)
    pushed(oci_registry, source, "org/base@1", "forged/ft-base", capsys)
    url = f"http://{oci_registry.host}/v2/forged"
    manifest = httpx.get(f"{url}/ft/manifests/v1", headers={"Accept": layout.MANIFEST}).json()
    base_weights = next(
        f for f in reg.files(reg.version_id("org/base")) if f.path == "model.safetensors"
    )
    for layer in manifest["layers"]:
        if layer["annotations"][layout.FILEPATH] == "model.safetensors":
            layer["digest"], layer["size"] = "sha256:" + base_weights.sha256, base_weights.size
    # the base's blob must exist in this repository for the registry to accept the manifest
    mount = httpx.post(
        f"{url}/ft/blobs/uploads/?mount=sha256:{base_weights.sha256}&from=forged/ft-base"
    )
    assert mount.status_code == 201, mount.text
    forged = layout.canonical(manifest)
    headers = {"Content-Type": layout.MANIFEST}
    assert httpx.put(f"{url}/ft/manifests/v1", content=forged, headers=headers).status_code == 201
    index = httpx.get(
        f"{url}/ft/manifests/{done['digest'].replace(':', '-')}", headers={"Accept": layout.INDEX}
    ).content
    tag = layout.digest_of(forged).replace(":", "-")
    put = httpx.put(
        f"{url}/ft/manifests/{tag}", content=index, headers={"Content-Type": layout.INDEX}
    )
    assert put.status_code == 201
    out = tmp_path / "pulled"
    args = ["oci", "pull", f"{oci_registry.host}/forged/ft:v1", "-o", str(out)]
    assert main([*args, "--registry", str(root)]) == 2
    assert "about another manifest" in capsys.readouterr().err
    assert nothing_written(out)


def test_the_wrong_key_fails_with_nothing_written(oci_registry, source, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    pushed(oci_registry, source, "org/ft@1", "wrongkey/ft", capsys)
    pub = save_keypair(generate(), tmp_path / "other.pem")
    out = tmp_path / "pulled"
    args = ["oci", "pull", f"{oci_registry.host}/wrongkey/ft:v1", "-o", str(out), "--pub", str(pub)]
    assert main(args) == 2
    assert "no attached bundle verifies" in capsys.readouterr().err
    assert nothing_written(out)
