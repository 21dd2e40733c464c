"""The program as a process ends without the interpreter's teardown (netcalc/program.py):
its output must still arrive whole, its exit code stay, and a reader that leaves early
(`| head`) be no error."""

from __future__ import annotations

import subprocess
import sys

from helpers import ROOT, SPECS, run_cli


def _netcalc(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "netcalc", *args], cwd=ROOT,
                          capture_output=True, timeout=120, **kwargs)


def test_the_output_arrives_whole_and_the_exit_code_stays(capsys):
    done = _netcalc("summary", str(SPECS / "resnet50.yaml"), "--format", "json")
    _, expected, _ = run_cli(capsys, "summary", str(SPECS / "resnet50.yaml"), "--format", "json")
    assert done.returncode == 0 and done.stdout.decode() == expected
    assert len(expected) > 50_000                      # more than one pipe buffer
    missing = _netcalc("summary", "no-such-spec.yaml")
    assert missing.returncode == 2 and missing.stdout == b""
    assert missing.stderr.decode() == "error: no such spec file: no-such-spec.yaml\n"
    bad = _netcalc("conv", "--input", "3x5x5", "--out", "8", "-k", "7")
    assert bad.returncode == 1 and b"kernel 7 is larger" in bad.stderr


def test_a_reader_that_leaves_early_is_no_error():
    process = subprocess.Popen([sys.executable, "-m", "netcalc", "summary",
                                str(SPECS / "densenet121.yaml"), "--format", "json"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.read(100)
    process.stdout.close()                             # `| head -c 100`
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0
    assert err == b""
