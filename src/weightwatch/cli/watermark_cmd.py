"""``weightwatch watermark ...`` (commands are being built; see the issue tracker)."""

from __future__ import annotations

import typer

watermark_app = typer.Typer(help="Usage watermarking: keys, generation, detection.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the ``watermark`` command group."""
    app.add_typer(watermark_app, name="watermark")
