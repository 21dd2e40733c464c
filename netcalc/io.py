"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import UsageError

# Names of an open descriptor: /dev/stdout links to /proc/self/fd/1, whose target
# may be a pipe ("pipe:[123]", no path at all) or the file a shell redirected to.
_DESCRIPTOR = re.compile(r"/(dev/(fd/\d+|stdout|stderr)|proc/(self|\d+)/fd/\d+)")


def write_atomic(path: str | Path, text) -> None:
    """Write `text` (str or bytes, or str pieces in turn) to a temporary file beside
    `path`, then rename it over `path`.

    A symbolic link is written through (its target is replaced), and an existing
    file keeps its permissions; a new one gets the usual 0666 less the umask.
    A device, a pipe or a descriptor's name (-o /dev/null, a FIFO, /dev/stdout) is
    written to, never replaced.
    """
    binary = isinstance(text, bytes)
    # text as written, UTF-8 whatever the locale, line breaks untranslated
    kind, options = ("b", {}) if binary else ("", {"encoding": "utf-8", "newline": ""})
    stream = _stream_mode(path)
    if stream:
        try:
            with open(path, stream + kind, **options) as f:
                _write(f, text)
            return
        except OSError as e:
            raise UsageError(f"cannot write {path}: {e.strerror}") from None
    target = Path(os.path.realpath(path))
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        why = f"{directory} is not a directory" if directory.exists() \
            else f"no such directory {directory}"
        raise UsageError(f"cannot write {path}: {why}")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "w" + kind, **options) as f:
            # mkstemp's 0600 would surprise: keep the old file's mode, or use the usual one
            os.fchmod(f.fileno(), target.stat().st_mode & 0o7777 if target.exists()
                      else 0o666 & ~umask())
            _write(f, text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except OSError as e:
        os.unlink(temp)
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    except BaseException:
        os.unlink(temp)
        raise


def _stream_mode(path: str | Path) -> str | None:
    """How to open `path` if it is written to rather than replaced, else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None        # missing: a new file (or an error that says why it cannot be)
    if not stat.S_ISREG(mode):
        return "w"         # a device or a pipe
    if _DESCRIPTOR.fullmatch(os.path.abspath(path)):
        # a descriptor open on a file (`-o /dev/stdout >> log`): replacing the file would
        # leave the descriptor on the old one, and "w" would truncate what `>>` kept
        return "a"
    return None


def umask() -> int:
    """The process's umask (reading it means setting it: set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def directory_beside(target: Path, what: str):
    """A new, empty directory beside `target` (in its parent, hidden), with the mode a
    new directory gets (not mkdtemp's 0700), to write a directory's files into and then
    rename into place, so that no reader sees half of it. If the block fails, the
    directory is removed (an OSError said as `cannot write WHAT`)."""
    try:
        made = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp",
                                     dir=target.parent))
        os.chmod(made, 0o777 & ~umask())
    except OSError as e:
        raise UsageError(f"cannot write {what}: {e.strerror}") from None
    try:
        yield made
    except OSError as e:
        shutil.rmtree(made, ignore_errors=True)
        raise UsageError(f"cannot write {what}: {e.strerror}") from None
    except BaseException:
        shutil.rmtree(made, ignore_errors=True)
        raise


def _write(f, text) -> None:
    if isinstance(text, (str, bytes)):
        f.write(text)
    else:
        f.writelines(text)
