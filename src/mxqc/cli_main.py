"""``python -m mxqc.cli_main``: the CLI without the console script (tests, subprocesses)."""

from mxqc.cli import app

if __name__ == "__main__":
    app()
