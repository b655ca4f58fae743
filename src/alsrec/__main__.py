"""``python -m alsrec`` runs the command line."""

from alsrec.cli.main import main

main()
