"""`-o FILE` as users meet it: a missing or unwritable directory, a full disk, a
device, a pipe or a descriptor, the mode of a new file. A failed write prints one
line, exits 2, and leaves no half-written or temporary file and the old file as it was.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import ROOT, SPECS, run_cli

LENET = str(SPECS / "lenet5.yaml")

# every command that writes its output with -o, on a small spec (all run in ~50 ms)
WRITERS = {
    "summary": ("summary", LENET, "--format", "json"),
    "export": ("export", LENET, "--to", "yaml"),
    "explain": ("explain", LENET, "--lang", "zh"),
    "diagram": ("diagram", LENET, "--format", "dot"),
}
writers = pytest.mark.parametrize("command", sorted(WRITERS))


def write(capsys, command: str, target) -> tuple[int, str, str]:
    return run_cli(capsys, *WRITERS[command], "-o", str(target))


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err.rstrip("\n")


@writers
def test_a_missing_directory_is_named(command, tmp_path, capsys):
    target = tmp_path / "missing" / "out.txt"
    code, out, err = write(capsys, command, target)
    assert (code, out) == (2, "")
    missing = Path(os.path.realpath(tmp_path)) / "missing"
    assert one_error_line(err) == f"error: cannot write {target}: no such directory {missing}"
    assert os.listdir(tmp_path) == []


@writers
def test_a_file_where_the_directory_should_be_is_named(command, tmp_path, capsys):
    # what fails for root too (chmod does not stop root): the parent is a regular file
    parent = tmp_path / "notes.txt"
    parent.write_text("mine")
    target = parent / "out.txt"
    code, out, err = write(capsys, command, target)
    assert (code, out) == (2, "")
    real = Path(os.path.realpath(parent))
    assert one_error_line(err) == f"error: cannot write {target}: {real} is not a directory"
    assert parent.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0o555 directory; "
                    "test_a_directory_even_root_cannot_write_into covers root")
def test_a_read_only_directory_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, out, err = write(capsys, "summary", locked / "out.json")
        assert (code, out) == (2, "")
        assert one_error_line(err) == f"error: cannot write {locked / 'out.json'}: " \
                                      "Permission denied"
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o755)


def _root_cannot_create_in(directory: str) -> bool:
    try:
        fd, name = tempfile.mkstemp(dir=directory)
    except OSError:
        return True
    os.close(fd)
    os.unlink(name)
    return False


@writers
def test_a_directory_even_root_cannot_write_into(command, capsys):
    # sysfs refuses new files to everyone, root included (EACCES)
    if not os.path.isdir("/sys") or not _root_cannot_create_in("/sys"):
        pytest.skip("no /sys that refuses new files here")
    target = "/sys/netcalc-test-output.txt"
    code, out, err = write(capsys, command, target)
    assert (code, out) == (2, "")
    assert one_error_line(err).startswith(f"error: cannot write {target}: ")
    assert not os.path.exists(target)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full (Linux only)")
@writers
def test_a_full_disk_is_reported_and_the_device_kept(command, capsys):
    # /dev/full accepts open() and fails every write with ENOSPC
    code, out, err = write(capsys, command, "/dev/full")
    assert (code, out) == (2, "")
    assert one_error_line(err) == "error: cannot write /dev/full: No space left on device"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@writers
def test_a_disk_filling_up_mid_write_leaves_the_old_file_and_no_temporary(
        command, tmp_path, monkeypatch, capsys):
    target = tmp_path / "out.txt"
    target.write_text("previous contents")
    target.chmod(0o640)

    def full(fd):       # the data reaches the disk at fsync: that is where ENOSPC shows
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    code, out, err = write(capsys, command, target)
    assert (code, out) == (2, "")
    assert one_error_line(err) == f"error: cannot write {target}: No space left on device"
    assert target.read_text() == "previous contents"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["out.txt"]


@writers
def test_a_spec_error_never_touches_the_output_file(command, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 11}\n")
    target = tmp_path / "out.txt"
    target.write_text("previous contents")
    command_name, _, *options = WRITERS[command]
    code, out, err = run_cli(capsys, command_name, str(bad), *options, "-o", str(target))
    assert (code, out) == (1, "")
    assert one_error_line(err).startswith(f"{bad}:3:")
    assert target.read_text() == "previous contents"
    assert sorted(os.listdir(tmp_path)) == ["bad.yaml", "out.txt"]


@pytest.fixture
def umask():
    """Set the process umask for one test (the file's mode depends on it)."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o000])
@writers
def test_a_new_file_gets_the_mode_open_would_give_it(command, mask, tmp_path, umask, capsys):
    # the temporary file mkstemp makes is 0o600 whatever the umask: the rename must not
    # leave that on the user's file
    umask(mask)
    target = tmp_path / "out.txt"
    code, _, err = write(capsys, command, target)
    assert code == 0, err
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert os.listdir(tmp_path) == ["out.txt"]


def test_an_existing_file_keeps_its_mode_whatever_the_umask(tmp_path, umask, capsys):
    umask(0o022)
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o600)
    assert write(capsys, "summary", target)[0] == 0
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.read_text().startswith("{")


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_a_binary_picture_is_written_the_same_way(tmp_path, umask, capsys):
    umask(0o027)
    target = tmp_path / "lenet.svg"
    code, out, _ = run_cli(capsys, "diagram", LENET, "-o", str(target))
    assert (code, out) == (0, "")
    assert b"<svg" in target.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["lenet.svg"]


# -- devices, pipes and descriptors: written to, never replaced -----------------------

def netcalc(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netcalc", *args], cwd=ROOT, timeout=60,
                          **kwargs)


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout")
def test_dev_stdout_into_a_pipe_writes_to_the_pipe():
    # /dev/stdout -> /proc/self/fd/1 -> "pipe:[...]", which has no path: it once failed
    # with "cannot write /dev/stdout: No such file or directory"
    expected = netcalc("summary", LENET, capture_output=True, text=True)
    run = netcalc("summary", LENET, "-o", "/dev/stdout", capture_output=True, text=True)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == expected.stdout and "61,706" in run.stdout


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout")
def test_dev_stdout_appended_to_a_file_keeps_what_was_there(tmp_path):
    # `netcalc ... -o /dev/stdout >> log`: replacing log would drop its first line
    log = tmp_path / "log.txt"
    log.write_text("before\n")
    inode = log.stat().st_ino
    with open(log, "a") as stdout:
        run = netcalc("summary", LENET, "--format", "csv", "-o", "/dev/stdout", stdout=stdout,
                      stderr=subprocess.PIPE, text=True)
    assert (run.returncode, run.stderr) == (0, "")
    lines = log.read_text().splitlines()
    assert lines[0] == "before" and lines[1].startswith("name,type,")
    assert log.stat().st_ino == inode
    assert os.listdir(tmp_path) == ["log.txt"]


def test_a_fifo_is_written_to_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    run = netcalc("summary", LENET, "--format", "csv", "-o", str(fifo), capture_output=True,
                  text=True)
    received, _ = reader.communicate(timeout=60)
    assert (run.returncode, run.stderr) == (0, "")
    assert received.startswith("name,type,")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
