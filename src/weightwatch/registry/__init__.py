"""The model registry: content-addressed storage, the registration pipeline, takedowns,
tiered access. The package owns its tables (``schema``, read only through ``queries``);
everything outside it calls :class:`Registry` and the service modules (``access``,
``accounts``, ``gates``, ``upload_records``, ``visibility``).

The names below load on first use, so importing a light module of the package (its
vocabularies in ``states``) does not pull in SQLAlchemy and Alembic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from weightwatch.registry.queries import FileRow as FileRow
    from weightwatch.registry.queries import ModerationRow as ModerationRow
    from weightwatch.registry.queries import VersionRow as VersionRow
    from weightwatch.registry.registry import Registry as Registry
    from weightwatch.registry.views import ModerationView as ModerationView
    from weightwatch.registry.views import TreeNode as TreeNode
    from weightwatch.registry.views import VersionView as VersionView

_EXPORTS = {
    "FileRow": "queries",
    "ModerationRow": "queries",
    "VersionRow": "queries",
    "Registry": "registry",
    "ModerationView": "views",
    "TreeNode": "views",
    "VersionView": "views",
}

__all__ = [
    "FileRow",
    "ModerationRow",
    "ModerationView",
    "Registry",
    "TreeNode",
    "VersionRow",
    "VersionView",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
