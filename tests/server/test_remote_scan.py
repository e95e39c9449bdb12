"""``weightwatch scan hf://…`` against weightwatch's own Hub-compatible server: the demo's
malicious model gets the verdict and findings a local scan gives while fetching under 5%
of its bytes; a token is sent like huggingface_hub sends it; bad listings are refused."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from tests.services import serving
from weightwatch.artifacts.remote import RemoteRepo, mirror
from weightwatch.cli import main
from weightwatch.errors import ScanError, UsageError
from weightwatch.registry import Registry
from weightwatch.registry.access import create_token
from weightwatch.registry.accounts import create_user
from weightwatch.scan import scan_paths
from weightwatch.scan.remote import scan_sources
from weightwatch.testing.demo import _malicious
from weightwatch.testing.pickle_bytes import call

UNSCANNED_HUB = """schema_version: 1
id: unscanned-hub
version: "1"
extends: default
disable: [scan-code-execution, scan-suspicious]
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory, llama_family):  # type: ignore[no-untyped-def]
    from weightwatch.server import create_app

    tmp = tmp_path_factory.mktemp("remote-scan")
    folder = _malicious(llama_family.base, tmp / "llama-helper")
    reg = Registry.open(tmp / "reg", init=True)
    # a hub that hosts what it is given (weightwatch's default policy would block this
    # model and never serve it): the situation a remote scan is for
    (tmp / "reg" / "policy.yaml").write_text(UNSCANNED_HUB)
    reg.register(folder, "mallory/llama-helper")
    reg.register(llama_family.base, "demo/llama-base")
    reg.register(llama_family.base_bin, "demo/llama-bin")  # torch zip with real storages
    reg.register(llama_family.gguf_q8_0, "demo/llama-q8")
    tail = tmp / "trailing"  # a pickle hidden after the last safetensors tensor
    shutil.copytree(llama_family.base, tail)
    with (tail / "model.safetensors").open("ab") as f:
        f.write(call("os", "system", "echo " + "pwned " * 20))  # > the 64-byte slack
    reg.register(tail, "mallory/trailing")
    short = tmp / "short-tail"  # under 64 bytes: no GGUF-style padding slack for safetensors
    shutil.copytree(llama_family.base, short)
    with (short / "model.safetensors").open("ab") as f:
        f.write(SHORT_PICKLE)
    reg.register(short, "mallory/short-tail")
    gap = tmp / "gap"  # a pickle between two safetensors tensors, not after the last
    shutil.copytree(llama_family.base, gap)
    _insert_gap(gap / "model.safetensors", SHORT_PICKLE)
    reg.register(gap, "mallory/gap")
    gguf_tail = tmp / "gguf-tail" / "model.gguf"  # a GGUF's padding must be zeros
    gguf_tail.parent.mkdir()
    gguf_tail.write_bytes(llama_family.gguf_q8_0.read_bytes() + SHORT_PICKLE)
    reg.register(gguf_tail.parent, "mallory/gguf-tail")
    create_user(reg.store, "admin", "correct horse battery staple", role="admin")
    token = create_token(reg.store, "admin")
    with serving(create_app(tmp / "reg")) as url:
        yield (
            url,
            token,
            folder,
            {
                "demo/llama-bin": llama_family.base_bin,
                "demo/llama-q8": llama_family.gguf_q8_0,
                "mallory/trailing": tail,
                "mallory/short-tail": short,
                "mallory/gguf-tail": gguf_tail.parent,
                "mallory/gap": gap,
            },
        )
    reg.close()


def findings(report):  # type: ignore[no-untyped-def]
    return sorted(
        (fr.path.split("/", 1)[1], f.rule_id, f.severity.value)
        for fr in report.files
        for f in fr.findings
    )


def test_remote_scan_matches_a_local_scan_of_the_malicious_model(hub) -> None:  # type: ignore[no-untyped-def]
    url, token, folder, _ = hub
    local = scan_paths([folder])
    remote, stats = scan_sources(["hf://mallory/llama-helper"], endpoint=url, token=token)
    assert local.verdict.value == "malicious"
    assert remote.verdict == local.verdict
    assert findings(remote) == findings(local)
    assert {fr.path.split("/", 1)[1] for fr in remote.files} == {
        fr.path.split("/", 1)[1] for fr in local.files
    }
    (st,) = stats.values()
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert st.bytes_total == total
    assert st.bytes_fetched < 0.05 * total, st.to_json()
    assert "model.safetensors" not in st.whole_files


def test_a_clean_model_stays_clean_remotely(hub) -> None:  # type: ignore[no-untyped-def]
    url, token, _, _ = hub
    remote, stats = scan_sources(["hf://demo/llama-base@1"], endpoint=url, token=token)
    assert remote.verdict.value == "clean"
    assert next(iter(stats.values())).bytes_fetched < 0.05 * next(iter(stats.values())).bytes_total


def test_cli_reports_bytes_and_exit_code(hub, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    url, token, _, _ = hub
    monkeypatch.setenv("HF_TOKEN", token)  # like huggingface_hub
    assert main(["scan", "hf://mallory/llama-helper", "--endpoint", url, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    (remote,) = doc["remote"].values()
    assert 0 < remote["bytes_fetched"] < 0.05 * remote["bytes_total"]


def test_refusals_and_bad_input(hub, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    url, _token, _, _ = hub
    with pytest.raises(ScanError, match="HTTP 40"):
        mirror(RemoteRepo.parse("hf://mallory/nothing-here"), tmp_path / "x", endpoint=url)
    with pytest.raises(UsageError):
        RemoteRepo.parse("hf://../../etc")
    assert main(["scan", "hf://no-such/repo", "--endpoint", url]) == 2
    err = capsys.readouterr().err
    assert "hf://no-such/repo" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("sibling", "why"),
    [
        ({"rfilename": "../../evil", "size": 3}, "unsafe file name"),
        ({"rfilename": "/etc/evil", "size": 3}, "unsafe file name"),
        ({"rfilename": "big.bin", "size": 1 << 62}, "impossible size"),
        ({"rfilename": "neg.bin", "size": -1}, "impossible size"),
        ({"name": "x"}, "malformed"),
    ],
)
def test_hostile_listings_are_refused(tmp_path, sibling, why) -> None:  # type: ignore[no-untyped-def]
    # a stand-in for a hostile endpoint's listing (the only thing these tests need from it)
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"siblings": [sibling]})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(ScanError, match=why):
        mirror(RemoteRepo.parse("hf://a/b"), tmp_path / "m", endpoint="http://x", http=http)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "m" / "big.bin").exists()


SHORT_PICKLE = b"cos\nsystem\n(S'id'\ntR."  # 22 bytes


def _insert_gap(path, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    """Put ``payload`` between the first and second tensors (later offsets move on)."""
    import json
    import struct

    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    first = min(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    for k, v in header.items():
        if k != "__metadata__" and v["data_offsets"][0] >= first:
            v["data_offsets"] = [o + len(payload) for o in v["data_offsets"]]
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + data[:first] + payload + data[first:])


@pytest.mark.parametrize(
    "repo",
    [
        "demo/llama-bin",
        "demo/llama-q8",
        "mallory/trailing",
        "mallory/short-tail",
        "mallory/gguf-tail",
        "mallory/gap",
    ],
)
def test_zip_gguf_and_trailing_data_match_a_local_scan(hub, repo: str) -> None:  # type: ignore[no-untyped-def]
    url, token, _, local_paths = hub
    local = scan_paths([local_paths[repo]])
    remote, stats = scan_sources([f"hf://{repo}"], endpoint=url, token=token)
    assert remote.verdict == local.verdict

    def strip(report):  # type: ignore[no-untyped-def]
        return sorted(
            (fr.path.rsplit("/", 1)[-1], f.rule_id) for fr in report.files for f in fr.findings
        )

    assert strip(remote) == strip(local)
    st = next(iter(stats.values()))
    print(repo, st.to_json())
    if repo.startswith("mallory/"):
        assert local.verdict.value != "clean"  # the tail was fetched and scanned
    else:
        assert local.verdict.value == "clean"
        big = max(
            local_paths[repo].rglob("*") if local_paths[repo].is_dir() else [local_paths[repo]],
            key=lambda p: p.stat().st_size,
        )
        assert big.name not in st.whole_files  # read through its header, not downloaded
        assert st.bytes_fetched < st.bytes_total / 2
