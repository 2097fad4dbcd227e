#!/usr/bin/env bash
# Create .venv (if missing) and install cnmap with every extra from pyproject.toml.
# Re-runs are cheap: the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=.venv/.cnmap-install-stamp
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing cnmap and its dependencies into .venv ..."
  .venv/bin/python -m pip install --quiet -e ".[all,test]"
  echo "$want" > "$stamp"
fi
# the offline mirror of official data beside the project (CI sets it the same way)
if [ -z "${CNMAP_DATA_MIRROR:-}" ] && [ -d ../shared/data ]; then
  echo "export CNMAP_DATA_MIRROR=$(cd ../shared/data && pwd)"
fi
