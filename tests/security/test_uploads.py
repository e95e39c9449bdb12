"""Findings 9 and 10, and the per-publisher upload quota: truncated or corrupt tar
streams are refused whole; confusable file and model names are refused."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator

import httpx
import pytest

from tests.security.conftest import Site
from weightwatch.server.uploads import MAX_OPEN_UPLOADS

pytestmark = pytest.mark.slow


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def upload(site: Site) -> Iterator[tuple[httpx.Client, str]]:
    with site.client("owner") as http:
        r = http.post("/api/v1/uploads", json={"model": "acme/tar-test", "access": "public"})
        assert r.status_code == 201, r.text
        upload_id = r.json()["id"]
        yield http, upload_id
        http.delete(f"/api/v1/uploads/{upload_id}")


def _staged(http: httpx.Client, upload_id: str) -> list[str]:
    return [f["path"] for f in http.get(f"/api/v1/uploads/{upload_id}").json()["files"]]


def test_a_tar_cut_after_its_first_member_stages_nothing(upload) -> None:  # type: ignore[no-untyped-def]
    """Finding 9: a dying ``tar | curl`` must not register a partial model."""
    http, upload_id = upload
    whole = _tar({"config.json": b"{}" * 700, "model.safetensors": b"\0" * 5000})
    first = 512 + 1536  # header + the first member's data, padded to 512: then the cut
    assert whole[first : first + 512] != b"\0" * 512  # the cut falls between members
    r = http.put(f"/api/v1/uploads/{upload_id}/tar", content=whole[:first])
    assert r.status_code == 400 and "end-of-archive" in r.json()["error"], r.text
    assert _staged(http, upload_id) == []
    r = http.put(f"/api/v1/uploads/{upload_id}/tar", content=whole[: first + 700])  # mid-member
    assert r.status_code == 400 and _staged(http, upload_id) == []
    r = http.put(f"/api/v1/uploads/{upload_id}/tar", content=whole)
    assert r.status_code == 200, r.text
    assert sorted(_staged(http, upload_id)) == ["config.json", "model.safetensors"]


@pytest.mark.parametrize("damage", ["crc", "isize", "cut"])
def test_a_corrupt_tar_gz_stages_nothing(upload, damage: str) -> None:  # type: ignore[no-untyped-def]
    """Finding 9: gzip's CRC32 and ISIZE are checked, and a cut stream is refused."""
    http, upload_id = upload
    gz = bytearray(gzip.compress(_tar({"config.json": b"{}" * 700})))
    if damage == "crc":
        gz[-8] ^= 0xFF
    elif damage == "isize":
        gz[-1] ^= 0x01
    else:
        del gz[-20:]
    r = http.put(f"/api/v1/uploads/{upload_id}/tar", content=bytes(gz))
    assert r.status_code == 400, r.text
    assert _staged(http, upload_id) == []


@pytest.mark.parametrize(
    "name",
    [
        "model\u202egnp.safetensors",  # right-to-left override
        "weights\u2024safetensors",  # one-dot leader
        "config\uff0ejson",  # full-width full stop
        "config.json.",  # trailing dot
        "config.json ",  # trailing space
        "sub /x.json",
        "zero\u200bwidth.json",
    ],
)
def test_confusable_file_names_are_refused(upload, name: str) -> None:  # type: ignore[no-untyped-def]
    """Finding 10."""
    http, upload_id = upload
    from urllib.parse import quote

    r = http.put(f"/api/v1/uploads/{upload_id}/files/{quote(name)}", content=b"{}")
    assert r.status_code == 400, (name, r.text)
    r = http.put(f"/api/v1/uploads/{upload_id}/tar", content=_tar({name: b"{}"}))
    assert r.status_code == 400, (name, r.text)
    assert _staged(http, upload_id) == []


def test_unicode_forms_and_case_clashes_are_refused(upload) -> None:  # type: ignore[no-untyped-def]
    """Finding 10: NFC and NFD of one name side by side; names differing in case only."""
    http, upload_id = upload
    nfc, nfd = "caf\u00e9.json", "cafe\u0301.json"
    r = http.put(f"/api/v1/uploads/{upload_id}/tar", content=_tar({nfc: b"1", nfd: b"2"}))
    assert r.status_code == 400 and "Unicode" in r.json()["error"], r.text
    r = http.put(f"/api/v1/uploads/{upload_id}/tar", content=_tar({"A.json": b"1", "a.json": b"2"}))
    assert r.status_code == 400 and "letter case" in r.json()["error"], r.text
    assert (
        http.put(f"/api/v1/uploads/{upload_id}/files/Config.json", content=b"1").status_code == 200
    )
    r = http.put(f"/api/v1/uploads/{upload_id}/files/config.json", content=b"2")
    assert r.status_code == 400 and "letter case" in r.json()["error"]
    from urllib.parse import quote

    r = http.put(f"/api/v1/uploads/{upload_id}/files/{quote(nfd)}", content=b"3")
    assert r.status_code == 200 and r.json()["path"] == nfc  # stored in NFC
    assert sorted(_staged(http, upload_id)) == ["Config.json", nfc]


def test_model_names_with_a_trailing_newline_are_refused(site: Site) -> None:
    """Finding 10: ``$`` matched before a trailing newline."""
    from weightwatch.errors import UsageError
    from weightwatch.registry.store import parse_name, parse_ref

    with pytest.raises(UsageError):
        parse_name("acme/model\n")
    with pytest.raises(UsageError):
        parse_ref("acme/model@1\n")
    with site.client("owner") as http:
        r = http.post("/api/v1/uploads", json={"model": "acme/model\n", "access": "public"})
    assert r.status_code == 400, r.text


def test_a_publisher_has_a_bounded_number_of_open_uploads(site: Site) -> None:
    """Also settled: disk amplification by many small uploads (each bounded by
    ``max_upload_bytes`` decompressed) is bounded per publisher."""
    with site.client("owner") as http:
        ids = []
        for i in range(MAX_OPEN_UPLOADS):
            r = http.post("/api/v1/uploads", json={"model": f"acme/q{i}", "access": "public"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        r = http.post("/api/v1/uploads", json={"model": "acme/one-more", "access": "public"})
        assert r.status_code == 429 and "at most" in r.json()["error"]
        for upload_id in ids:
            assert http.delete(f"/api/v1/uploads/{upload_id}").status_code == 200
        r = http.post("/api/v1/uploads", json={"model": "acme/one-more", "access": "public"})
        assert r.status_code == 201
        http.delete(f"/api/v1/uploads/{r.json()['id']}")
