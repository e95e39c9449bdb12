"""``python -m weightwatch`` runs the CLI."""

from weightwatch.cli import main

raise SystemExit(main())
