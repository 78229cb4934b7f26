"""``python -m engine.cli`` runs the command line."""

from engine.cli import main

main()
