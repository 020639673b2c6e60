"""The ``mxqc`` command line: one Typer app, one module per group of commands, each command
a thin driver over library calls. An mxqc error from any command is one line on stderr and
exit code 1 (``common.one_line_errors``)."""

from __future__ import annotations

import typer

from mxqc.cli import data, files, learn, scan, service
from mxqc.threads import keep_freed_memory

app = typer.Typer(help="mxqc: find anomalies in macromolecular X-ray diffraction images.",
                  no_args_is_help=True, add_completion=False)
for group in (files, scan, learn, service, data):
    group.register(app)


@app.callback()
def _every_command() -> None:
    keep_freed_memory()  # the command's own process, as its workers (``prepare_worker``)

__all__ = ["app"]
