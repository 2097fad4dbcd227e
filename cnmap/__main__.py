"""``python -m cnmap`` runs the command-line interface."""

from cnmap.cli import console

console()
