#!/bin/sh
# Installs what the tests need and runs them: Graphviz's `dot` (from the
# system's package manager), Chromium and a CJK font (apt-get: the screenshot
# test of the documentation site, skipped where there is no Chromium), a virtual
# environment in .venv with netcalc and its test extra at the releases pinned
# in constraints.txt (torch: the CPU build), then ruff and pytest (which also
# builds the documentation site, mkdocs build --strict: tests/test_docs_site.py).
# The README's test command and .ci/run both run this script. Extra arguments
# go to pytest: sh scripts/test.sh -k errors
#
# sh scripts/test.sh --latest  does the same in .venv-latest with the newest
# releases that pyproject.toml's ranges admit (torch stays pinned: its newest
# release on the index is a CUDA build of several GB), to find an upstream
# release that breaks us before a user does.
#
# sh scripts/test.sh --corpus  also installs the model zoos of tests/corpus
# (timm, transformers, torchvision: --no-deps, so that none can replace the
# pinned CPU torch) and runs only the corpus of real models (a few minutes).
set -eu
cd "$(dirname "$0")/.."

venv=.venv
constraints=constraints.txt
upgrade=""
corpus=""
if [ "${1:-}" = "--corpus" ]; then
    shift
    corpus=yes
elif [ "${1:-}" = "--latest" ]; then
    shift
    venv=.venv-latest
    constraints=$venv/constraints.txt
    upgrade="--upgrade --upgrade-strategy eager"
fi

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
if ! command -v dot >/dev/null 2>&1; then
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

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1; }; then
        # not fatal: without it only the screenshot test is skipped
        { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install \
            -y -qq chromium fonts-wqy-zenhei >/dev/null; } ||
            echo "scripts/test.sh: Chromium did not install: the screenshot test of the" \
                 "documentation site will be skipped" >&2
    else
        echo "scripts/test.sh: no Chromium (apt-get install chromium, or your system's" \
             "package): the screenshot test of the documentation site will be skipped" >&2
    fi
fi

python3 -m venv $venv
if [ "$venv" = .venv-latest ]; then
    grep -E '^torch==' constraints.txt > "$constraints"
fi
echo "scripts/test.sh: installing into $venv; a first run installs torch and prints nothing while it does (a minute or two here, longer where pip must download it)"
$venv/bin/python -m pip install -q --disable-pip-version-check $upgrade -c "$constraints" -e '.[test]'
if [ "$venv" = .venv-latest ]; then
    echo "scripts/test.sh: testing with"
    $venv/bin/python -m pip freeze --exclude-editable --disable-pip-version-check | sed 's/^/    /'
fi
$venv/bin/ruff check netcalc tests scripts bench
if [ -n "$corpus" ]; then
    $venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
        -r tests/corpus/requirements.txt
    exec $venv/bin/python -m pytest tests/corpus --corpus "$@"
fi
exec $venv/bin/python -m pytest "$@"
