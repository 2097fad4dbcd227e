#!/usr/bin/env bash
# Build the HTML documentation with warnings as errors (a fresh build every time, so that no
# warning hides in a cached page):
#   bash scripts/build_docs.sh                 -> docs/_build/html/index.html
#   DOCS_OUT=/tmp/html bash scripts/build_docs.sh
# Extra arguments go to sphinx-build. Notebooks are rendered from their stored outputs (they
# are executed by tests/test_notebooks.py); the docs build never downloads anything.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/sphinx-build ]; then
  bash scripts/setup.sh >/dev/null
fi
out="${DOCS_OUT:-docs/_build/html}"
warnings="${DOCS_WARNINGS:-$out.warnings.txt}"
mkdir -p "$(dirname "$warnings")"
export CNMAP_OFFLINE=1 CNMAP_PROGRESS=0
exec .venv/bin/sphinx-build -W --keep-going -E -q -b html \
  -d "$out.doctrees" -w "$warnings" "$@" docs "$out"
