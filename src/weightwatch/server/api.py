"""The registry's JSON API under ``/api/v1`` (being built; see issue #7)."""

from __future__ import annotations

from fastapi import APIRouter

from weightwatch.registry import Registry


def router(registry: Registry) -> APIRouter:
    return APIRouter(prefix="/api/v1")
