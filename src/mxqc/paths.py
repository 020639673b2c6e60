"""Expanding the paths users type (files, directories, globs) into files, in a stable order."""

from __future__ import annotations

import glob
import os

_SIDECARS = (".info", ".md", ".txt", ".log", ".json", ".jsonl", ".csv", ".parquet")


def expand_paths(paths) -> list[str]:
    """Files named by ``paths``: directories expand recursively, globs expand; sidecar and
    text files found in directories are skipped; a path that matches nothing is kept as is,
    so that the reader reports it as missing instead of it vanishing silently.

    Eiger data files (``*_data_NNNNNN.h5``) found in a directory are skipped: they are read
    through their master file. So are hidden files and folders (caches, partial writes).
    """
    out: list[str] = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            for root, dirs, files in sorted(os.walk(path)):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    eiger_data = "_data_" in name and name.endswith(".h5")
                    if name.lower().endswith(_SIDECARS) or eiger_data:
                        continue
                    out.append(os.path.join(root, name))
        elif glob.has_magic(path):
            out.extend(sorted(glob.glob(path, recursive=True)))
        else:
            out.append(path)
    return out


def missing_paths(paths) -> list[str]:
    """The ``paths`` that name nothing: neither a file or folder nor a glob that matches."""
    return [p for p in map(os.fspath, paths) if not os.path.exists(p)
            and not (glob.has_magic(p) and glob.glob(p, recursive=True))]
