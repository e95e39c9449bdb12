"""Uploads streamed into the registry (being built; see issue #7)."""

from __future__ import annotations

from fastapi import APIRouter

from weightwatch.registry import Registry


def router(registry: Registry, *, max_upload_bytes: int, max_file_bytes: int) -> APIRouter:
    return APIRouter(prefix="/api/v1")
