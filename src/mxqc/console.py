"""The consoles every command prints to."""

import sys

from rich.console import Console

# Piped output (logs, CI) would otherwise be cut to 80 columns; terminals keep their width.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)
