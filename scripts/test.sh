#!/bin/sh
# Installs what the tests need and runs them: Graphviz's `dot` (from the
# system's package manager), a virtual environment in .venv with netcalc and
# its test extra (torch pinned to the CPU build by constraints.txt), then
# ruff and pytest. The README's test command and .ci/run both run this script.
# Extra arguments go to pytest: sh scripts/test.sh -k errors
set -eu
cd "$(dirname "$0")/.."

if ! command -v dot >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    if command -v apt-get >/dev/null 2>&1; then
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq graphviz >/dev/null
    elif command -v brew >/dev/null 2>&1; then
        brew install graphviz
    elif command -v conda >/dev/null 2>&1; then
        conda install -y -c conda-forge graphviz
    else
        echo "scripts/test.sh: install Graphviz (its 'dot' program) and run again" >&2
        exit 2
    fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
.venv/bin/ruff check netcalc tests scripts bench
exec .venv/bin/python -m pytest "$@"
