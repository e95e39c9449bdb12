"""Upload throughput on loopback: one multi-GB file streamed into the registry's staging
area (hashed and written on the fly), as a plain ``PUT`` and inside a tar, against two
anchors: a server that reads and drops the body (the HTTP ceiling of uvicorn plus the
client on this machine), and SHA-256 + write + fsync of the same bytes with no HTTP.

Environment: ``WW_BENCH_UPLOAD_MIB`` (default 1024).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from bench_load import _serve, print_load_note

MIB = int(os.environ.get("WW_BENCH_UPLOAD_MIB", "1024"))
BLOCK = os.urandom(1 << 20)

APP = textwrap.dedent(
    """
    import sys, uvicorn
    from weightwatch.server import create_app
    uvicorn.run(create_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]),
                log_level="warning", access_log=False)
    """
)
SINK = textwrap.dedent(
    """
    import sys, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    async def sink(request):
        n = 0
        async for chunk in request.stream():
            n += len(chunk)
        return JSONResponse({"size": n})
    async def root(request):
        return Response("ok")
    app = Starlette(routes=[Route("/", root), Route("/sink", sink, methods=["PUT"])])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
                access_log=False)
    """
)


def body() -> Iterator[bytes]:
    for _ in range(MIB):
        yield BLOCK


def tar_body() -> Iterator[bytes]:
    info = tarfile.TarInfo("weights/big.bin")
    info.size = MIB << 20
    yield info.tobuf(format=tarfile.PAX_FORMAT)
    yield from body()
    yield b"\0" * (2 * tarfile.BLOCKSIZE)  # end of archive (the data is 512-aligned)


def timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def main() -> int:
    load_before = os.getloadavg()[0]
    from weightwatch.registry import Registry
    from weightwatch.registry.access import create_token
    from weightwatch.registry.accounts import create_user

    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "reg"
        reg = Registry.open(root, init=True)
        create_user(reg.store, "root", "bench-password", role="admin")
        token = create_token(reg.store, "root")
        reg.close()
        proc, url = _serve(APP, str(root))
        try:
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600
            ) as c:
                for name, path, make in (
                    ("registry upload, one file (`PUT …/files/{path}`)", "files/big.bin", body),
                    ("registry upload, inside a tar (`PUT …/tar`)", "tar", tar_body),
                ):
                    up = c.post("/api/v1/uploads", json={"model": "bench/big"}).json()["id"]

                    def put(up: str = up, path: str = path, make: object = make) -> None:
                        r = c.put(f"/api/v1/uploads/{up}/{path}", content=make())  # type: ignore[operator]
                        assert r.status_code == 200, r.text

                    rows.append((name, timed(put)))
                    assert c.delete(f"/api/v1/uploads/{up}").status_code == 200
        finally:
            proc.terminate()
            proc.wait(30)
        proc, url = _serve(SINK, "-")
        try:

            def sink() -> None:
                r = httpx.put(f"{url}/sink", content=body(), timeout=600)
                assert r.json()["size"] == MIB << 20

            rows.append(("anchor: uvicorn + Starlette reading and dropping the body", timed(sink)))
        finally:
            proc.terminate()
            proc.wait(30)

        def local() -> None:
            h = hashlib.sha256()
            with open(Path(tmp) / "local.bin", "wb") as out:
                for b in body():
                    h.update(b)
                    out.write(b)
                out.flush()
                os.fsync(out.fileno())

        rows.append(("anchor: SHA-256 + write + fsync in one process, no HTTP", timed(local)))

    print("### Server: upload throughput on loopback\n")
    print(
        f"One {MIB} MiB file streamed by an httpx client (a generator: never in memory) to one "
        "uvicorn process on 127.0.0.1; the registry hashes it and writes it to its staging "
        f"area (fsync at the end). Client and server share the machine's {os.cpu_count()} "
        "cores.\n"
    )
    print_load_note(load_before)
    print("| case | seconds | MiB/s |")
    print("|---|---:|---:|")
    for name, secs in rows:
        print(f"| {name} | {secs:.1f} | {MIB / secs:.0f} |")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
