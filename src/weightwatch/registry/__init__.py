"""The model registry: content-addressed storage, the registration pipeline, takedowns."""

from weightwatch.registry.registry import Registry, TreeNode, VersionView

__all__ = ["Registry", "TreeNode", "VersionView"]
