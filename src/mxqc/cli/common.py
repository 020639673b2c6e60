"""What the command groups share: argument types, the error handler, file failures."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from mxqc.centre import CENTRE_METHODS
from mxqc.console import console, err_console
from mxqc.errors import MxqcError

Paths = Annotated[list[str], typer.Argument(help="Files, directories or globs.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def one_line_errors(command: Callable) -> Callable:
    """``command`` with an mxqc error (a bad file, model or data set) said in one line on
    stderr and exit code 1, instead of a traceback. Typer reads the signature through
    ``functools.wraps``."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MxqcError as exc:
            err_console.print(Text.assemble(("error", "red"), " ", str(exc)))
            raise typer.Exit(code=1) from None
    return run


def add(app: typer.Typer, command: Callable, name: str | None = None, **options) -> None:
    """Register ``command`` on ``app`` behind ``one_line_errors``."""
    app.command(name, **options)(one_line_errors(command))


def fail_file(path: str, error: Exception | str, failures: list) -> None:
    """Say one file's failure and keep it for ``finish``; the command goes on."""
    message = str(error) if str(error).startswith(path) else f"{path}: {error}"
    failures.append({"path": path, "error": message})
    err_console.print(Text.assemble(("error", "red"), " ", message))


def finish(failures: list) -> None:
    """Exit 1 when some file failed (each said already)."""
    if failures:
        err_console.print(f"{len(failures)} file(s) failed")
        raise typer.Exit(code=1)


def file_table(rows, *columns) -> Table:
    """A table whose first column shows whole file names (never truncated)."""
    table = Table()
    width = max((len(os.path.basename(r["path"])) for r in rows), default=4)
    table.add_column("file", no_wrap=True, min_width=width)
    for column in columns:
        table.add_column(column, no_wrap=True)
    return table


def parse_frames(text: str | None) -> slice | None:
    """'1:3600:10' (Python slice of frame indices), '100:' or '5' → slice."""
    if not text:
        return None
    try:
        parts = [int(p) if p else None for p in text.split(":")]
    except ValueError:
        raise typer.BadParameter(f"expected START:STOP[:STEP], got {text!r}") from None
    if len(parts) == 1:
        return slice(parts[0], parts[0] + 1)
    if len(parts) > 3:
        raise typer.BadParameter(f"expected START:STOP[:STEP], got {text!r}")
    return slice(*parts)


def ints(text: str | None) -> tuple[int, ...] | None:
    """'64,128' → (64, 128)."""
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected integers separated by commas, got {text!r}") from None


def check_paths(paths) -> None:
    """Refuse paths of which none names a file, folder or matching glob (a typo, not a
    beamline's bad file): one line. Where some exist, the missing ones are error rows."""
    from mxqc.errors import FrameReadError
    from mxqc.paths import missing_paths

    missing = missing_paths(paths)
    if missing and len(missing) == len(paths):
        raise FrameReadError(" ".join(missing), "no such file or folder (give frame files, "
                             "folders holding them, or globs)")


def check_centre_method(method: str | None, param_hint: str = "--centre") -> None:
    """Refuse an unknown centre method by name (None: the command's default)."""
    if method is not None and method not in CENTRE_METHODS:
        raise typer.BadParameter(f"must be one of {sorted(CENTRE_METHODS)}",
                                 param_hint=param_hint)


def check_choice(value: str, choices, param_hint: str) -> None:
    if value not in choices:
        raise typer.BadParameter(f"must be one of {tuple(choices)}", param_hint=param_hint)


def load_with_views(model_path: str | None, tta: int = 1, *, strict: bool = True):
    """(model, views): the model and the test-time views it will average, checked
    (``check_views``); with ``strict=False`` a model that cannot take them gets one view.
    Shared by the commands that take ``--tta``."""
    from mxqc.learn import load_model

    model = load_model(model_path)
    return model, check_views(model.metadata, tta, strict=strict)


def check_model(model_path: str | None, tta: int = 1) -> None:
    """Refuse a bad model file, or test-time views it cannot take, from its card alone
    (torch is not loaded): one line before any worker starts."""
    from mxqc.learn.bundle import read_card

    check_views(read_card(model_path), tta)


def check_views(card, tta: int, *, strict: bool = True) -> int:
    """The test-time views a model of this card will average: ``tta`` if it can take them
    (a bad count is a usage error; with ``strict=False`` one view instead), with a note
    where its thresholds were not tuned for them."""
    from mxqc.learn.card import check_views as card_views

    try:
        views = card_views(card, tta)
    except ValueError as exc:
        if strict:
            raise typer.BadParameter(str(exc), param_hint="--tta") from None
        return 1
    if str(views) not in card["tta_thresholds"] and views > 1:
        console.print(f"[yellow]note[/yellow] {card['name']} has no thresholds tuned for "
                      f"{views} views; using its single-view ones (`mxqc tune` adds them)")
    return views


def check_device(device: str) -> None:
    """Refuse a device torch cannot use here (no GPU, an unknown name); the CPU is always
    there, and checking it would load torch for nothing."""
    if device != "cpu":
        from mxqc.learn.cnn import resolve_device

        resolve_device(device)
