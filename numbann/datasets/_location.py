"""Where the files of a data set are: the one rule for data_dir, NUMBANN_DATA and the cache."""

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from ._errors import DatasetNotFoundError
from ._registry import FILES

#: How each source of the directory is named in messages.
SOURCES = {
    "data_dir": "the data_dir argument",
    "NUMBANN_DATA": "$NUMBANN_DATA/{name}",
    "cache": "the per-user cache directory",
}


def user_cache_dir():
    """The per-user cache directory of numbann (a ``Path``; not created here).

    ``$XDG_CACHE_HOME/numbann`` if XDG_CACHE_HOME is set (on any platform),
    else ``~/.cache/numbann`` on Linux, ``~/Library/Caches/numbann`` on macOS
    and ``%LOCALAPPDATA%\\numbann`` on Windows.
    """
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        base = Path(xdg)
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path.home() / ".cache"
    return base / "numbann"


@dataclass(frozen=True)
class Where:
    """The directory of a set's files and why it was chosen."""

    directory: Path
    #: "data_dir", "NUMBANN_DATA" or "cache" (see SOURCES)
    source: str
    #: True for the per-user cache, which numbann manages (and may repair)
    managed: bool

    def origin(self, name):
        """Why this directory, in words for a message."""
        return SOURCES[self.source].format(name=name)


def where(name, data_dir=None):
    """The directory of set *name*'s files, by the first rule that applies.

    1. *data_dir*: the directory holding the four files, or a root with them in
       ``data_dir/<name>/`` (used when *data_dir* holds none of the files and
       has such a subdirectory);
    2. ``$NUMBANN_DATA/<name>`` if the environment variable is set;
    3. the per-user cache, ``user_cache_dir() / <name>``.
    """
    if data_dir is not None:
        directory = Path(data_dir).expanduser()
        inside = directory / name
        if inside.is_dir() and not any(find(directory, f) for f in FILES.values()):
            directory = inside
        return Where(directory, "data_dir", False)
    env = os.environ.get("NUMBANN_DATA")
    if env:
        return Where(Path(env).expanduser() / name, "NUMBANN_DATA", False)
    return Where(user_cache_dir() / name, "cache", True)


def find(directory, filename):
    """The path of *filename* in *directory*, gzipped or not (without ``.gz``); else None."""
    for candidate in (filename, filename.removesuffix(".gz")):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def dir_writable(path):
    """Whether numbann may write into *path*.

    A directory without any write permission bit counts as read-only even
    for root, who could write into it anyway.
    """
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return False
    return stat.S_ISDIR(mode) and bool(mode & 0o222) and os.access(path, os.W_OK)


def not_found(ds, place, missing, problem, failures=()):
    """The DatasetNotFoundError for *ds* in *place*: what is needed, where, and what to do.

    *missing* are the roles (keys of FILES) of the missing files; *failures*
    the mirrors' ``(url, reason, unreachable)`` for a failed download.
    """
    origin = place.origin(ds.name)
    lines = [f"{ds.title} data not available: {problem}"]
    lines += [f"  {f.url}: {f.detail or f.reason}" for f in failures]
    lines.append(f"numbann looked in {place.directory} ({origin}) for these files:")
    for key, filename in FILES.items():
        status = "missing" if key in missing else "found"
        lines.append(f"  {filename} (or uncompressed {filename.removesuffix('.gz')}): {status}")
    lines += [
        "To use files you already have, either",
        "  - pass data_dir='/path/to/dir' (the directory holding the four files), or",
        f"  - set NUMBANN_DATA=/path/to/root with the files in /path/to/root/{ds.name}/.",
        "Or use the 8x8 digits shipped with numbann, which need no download:",
        "  numbann.datasets.load_digits().",
        "numbann downloads missing files when online (download=True, the default); by hand,",
        "fetch the .gz files from one of:",
        *(f"  {mirror}" for mirror in ds.mirrors),
    ]
    return DatasetNotFoundError(
        "\n".join(lines), name=ds.name, title=ds.title, directory=place.directory,
        source=place.source, missing=[FILES[key] for key in missing], problem=problem,
        failures=failures)
