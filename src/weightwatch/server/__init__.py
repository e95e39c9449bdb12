"""The registry's HTTP server (FastAPI): the Hub-compatible download API for now."""

from weightwatch.server.app import create_app

__all__ = ["create_app"]
