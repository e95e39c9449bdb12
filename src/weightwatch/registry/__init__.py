"""The model registry: content-addressed storage, the registration pipeline, takedowns,
tiered access. The package owns its tables (``schema``, read only through ``queries``);
everything outside it calls :class:`Registry` and the service modules (``access``,
``accounts``, ``gates``, ``upload_records``)."""

from weightwatch.registry.queries import FileRow, ModerationRow, VersionRow
from weightwatch.registry.registry import ModerationView, Registry, TreeNode, VersionView

__all__ = [
    "FileRow",
    "ModerationRow",
    "ModerationView",
    "Registry",
    "TreeNode",
    "VersionRow",
    "VersionView",
]
