"""`python -m hashwatch.app`: the `hashwatch` command."""

from .cli import main

main()
