"""``python -m mxqc.cli``: the CLI without the console script (tests, subprocesses)."""

from mxqc.cli import app

app(prog_name="mxqc")
