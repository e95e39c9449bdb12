"""The real huggingface_hub client and transformers against weightwatch's Hub-compatible API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import hub_client
from weightwatch.registry.access import create_token, set_grant
from weightwatch.registry.accounts import create_user

pytestmark = pytest.mark.slow


def test_snapshot_download_and_hf_hub_download(hub, llama_family, tmp_path):
    reg, url = hub
    out = hub_client(
        url,
        tmp_path / "hf",
        "import sys\n"
        "from huggingface_hub import snapshot_download, hf_hub_download\n"
        "print(snapshot_download('org/base'))\n"
        "print(hf_hub_download('org/base', 'config.json'))\n",
    )
    folder, one = out.split()
    for f in llama_family.base.iterdir():
        if f.is_file():
            assert (Path(folder) / f.name).read_bytes() == f.read_bytes(), f.name
    assert Path(one).read_bytes() == (llama_family.base / "config.json").read_bytes()
    with reg.store.engine.connect() as conn:
        from sqlalchemy import select

        from weightwatch.registry import schema

        served = conn.execute(select(schema.downloads.c.path, schema.downloads.c.outcome)).all()
    assert ("config.json", "served") in served


GATES = """
import sys
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError
repo, token = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
try:
    hf_hub_download(repo, "config.json", token=token)
    print("ok")
except GatedRepoError:
    print("gated")
except RepositoryNotFoundError:
    print("notfound")
except HfHubHTTPError as e:
    print("http", e.response.status_code)
except Exception as e:  # e.g. LocalEntryNotFoundError raised from the HEAD call's error
    print(type(e).__name__, type(e.__cause__).__name__)
"""


def test_gates_tokens_and_takedowns_raise_what_the_hub_would(hub, tmp_path):
    reg, url = hub

    def fetch(repo: str, token: str | None = None) -> str:
        args = [repo] + ([token] if token else [])
        code = "import sys; sys.argv = ['x'] + " + repr(args) + "\n" + GATES
        return hub_client(url, tmp_path / f"hf-{len(os.listdir(tmp_path))}", code).strip()

    assert fetch("org/gated") == "gated"
    create_user(reg.store, "alice", "alice-password")
    token = create_token(reg.store, "alice")
    set_grant(reg.store, "org/gated", "alice", "pending")
    assert fetch("org/gated", token) == "gated"
    set_grant(reg.store, "org/gated", "alice", "accepted")
    assert fetch("org/gated", token) == "ok"
    assert fetch("org/missing") == "notfound"
    # taken down: the Hub's "disabled" answer, which the client reports as DisabledRepoError
    assert "DisabledRepoError" in fetch("org/down", token)
    assert fetch("org/base", "ww_not-a-real-token") == "notfound"


def test_range_requests_and_head(hub, llama_family):
    import httpx

    _, url = hub
    weights = (llama_family.base / "model.safetensors").read_bytes()
    r = httpx.get(
        f"{url}/org/base/resolve/main/model.safetensors",
        headers={"Range": "bytes=8-99"},
        follow_redirects=True,  # to the object store, where downloads are redirected
    )
    assert r.status_code == 206 and r.content == weights[8:100]
    h = httpx.head(f"{url}/org/base/resolve/main/model.safetensors")
    assert int(h.headers["content-length"]) == len(weights)
    assert len(h.headers["x-repo-commit"]) == 40 and h.headers["etag"].startswith('"')
    assert int(h.headers["x-linked-size"]) == len(weights)
    import hashlib

    assert h.headers["x-linked-etag"] == f'"{hashlib.sha256(weights).hexdigest()}"'
    info = httpx.get(f"{url}/api/models/org/gated").json()
    assert info["gated"] == "manual"


def test_transformers_from_pretrained_unchanged(hub, tmp_path):
    _, url = hub
    out = hub_client(
        url,
        tmp_path / "hfhome",
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "m = AutoModelForCausalLM.from_pretrained('org/base')\n"
        "t = AutoTokenizer.from_pretrained('org/base')\n"
        "print(type(m).__name__, len(t))\n",
    )
    assert out.split()[0] == "LlamaForCausalLM"


LOAD = """
import sys
from huggingface_hub import snapshot_download
from transformers import AutoModelForCausalLM
repo, token = sys.argv[1], sys.argv[2]
try:
    m = AutoModelForCausalLM.from_pretrained(repo, token=token)
    print("loaded", type(m).__name__, snapshot_download(repo, token=token))
except OSError as e:  # transformers wraps the client's GatedRepoError / not-found in OSError
    print("refused", type(e.__cause__).__name__ if e.__cause__ else "", str(e)[:200])
"""


def test_gated_and_restricted_models_load_only_once_allowed(hub, llama_family, tmp_path):
    from weightwatch.registry import accounts
    from weightwatch.registry.access import principal_for, request_access, set_model_access

    reg, url = hub
    reg.register(llama_family.finetune, "partners/secret", access="restricted")
    set_model_access(reg.store, "partners/secret", allowed_orgs=["partner"])
    accounts.create_user(reg.store, "bob", "password1")
    accounts.create_user(reg.store, "pam", "password1", orgs=("partner",))
    bob, pam = create_token(reg.store, "bob"), create_token(reg.store, "pam")

    def load(repo: str, token: str) -> str:
        code = "import sys; sys.argv = ['x', " + repr(repo) + ", " + repr(token) + "]\n" + LOAD
        return hub_client(url, tmp_path / f"hf-{len(os.listdir(tmp_path))}", code).strip()

    refused = load("org/gated", bob)
    assert refused.startswith("refused GatedRepoError"), refused
    request_access(reg.store, "org/gated", principal_for(reg.store, "bob"), {})
    assert load("org/gated", bob).startswith("refused GatedRepoError")  # pending is not enough
    set_grant(reg.store, "org/gated", "bob", "accepted", actor="reviewer")
    ok = load("org/gated", bob)
    assert ok.startswith("loaded LlamaForCausalLM"), ok
    assert (Path(ok.split()[-1]) / "model.safetensors").read_bytes() == (
        llama_family.int8 / "model.safetensors"
    ).read_bytes()
    # restricted: not even visible to others; members of the named organisation load it
    assert load("partners/secret", bob).startswith("refused RepositoryNotFoundError")
    assert load("partners/secret", pam).startswith("loaded LlamaForCausalLM")


def test_cli_registration_is_downloadable_at_once(hub, llama_family, tmp_path):
    import httpx

    reg, url = hub
    root = reg.store.root
    subprocess.run(
        [sys.executable, "-m", "weightwatch", "register", str(llama_family.pruned),
         "--name", "cli/pruned", "--registry", str(root)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    # a pruned copy of org/base that does not declare it: the policy gates it
    assert reg.status("cli/pruned").status == "gated"
    info = httpx.get(f"{url}/api/models/cli/pruned").json()
    assert "config.json" in {s["rfilename"] for s in info["siblings"]}
    r = httpx.get(f"{url}/cli/pruned/resolve/main/config.json")
    assert (r.status_code, r.headers["x-error-code"]) == (403, "GatedRepo")
    create_user(reg.store, "root", "root-password", role="admin")
    admin = create_token(reg.store, "root", role="admin")
    r = httpx.get(
        f"{url}/cli/pruned/resolve/main/config.json",
        headers={"authorization": f"Bearer {admin}"},
        follow_redirects=True,  # a redirect to the object store when blobs are there
    )
    assert r.status_code == 200
    assert r.content == (llama_family.pruned / "config.json").read_bytes()
