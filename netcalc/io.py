"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import UsageError


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`.

    A symbolic link is written through (its target is replaced), and an existing
    file keeps its permissions.
    """
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        # a device or a pipe (-o /dev/null, a FIFO): written to, never replaced
        try:
            with open(target, "wb" if isinstance(text, bytes) else "w") as f:
                f.write(text)
            return
        except OSError as e:
            raise UsageError(f"cannot write {path}: {e.strerror}") from None
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"cannot write {path}: no such directory {directory}")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    try:
        # mkstemp's 0600 would surprise: keep the old file's mode, or use the usual one
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_umask()
        os.chmod(temp, mode)
        binary = isinstance(text, bytes)
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8",
                       newline=None if binary else "") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except OSError as e:
        os.unlink(temp)
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    except BaseException:
        os.unlink(temp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
