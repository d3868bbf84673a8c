"""`python -m dataeff` runs the command line."""

from dataeff.cli import main

main()
