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
# compile the walking kernels once into numba's on-disk cache (NUMBA_CACHE_DIR, else
# cnmap/network/__pycache__), so that the first analysis does not pay for it; redone when
# the kernels change or their cache is missing
kstamp=.venv/.cnmap-kernels-stamp
kwant="$(sha256sum cnmap/network/_kernels.py | cut -d' ' -f1) ${NUMBA_CACHE_DIR:-}"
kcache=${NUMBA_CACHE_DIR:-cnmap/network/__pycache__}
if [ ! -f "$kstamp" ] || [ "$(cat "$kstamp")" != "$kwant" ] \
    || [ -z "$(find "$kcache" -name '_kernels.count_chunk-*.nbi' 2>/dev/null | head -n 1)" ]; then
  echo "compiling the walking kernels (once) ..."
  if .venv/bin/python -m cnmap.network.warmup; then
    echo "$kwant" > "$kstamp"
  else
    echo "warning: the walking kernels could not be compiled ahead; the first run compiles them" >&2
  fi
fi
# the offline mirror of official data beside the project (CI sets it the same way)
if [ -z "${CNMAP_DATA_MIRROR:-}" ] && [ -d ../shared/data ]; then
  echo "export CNMAP_DATA_MIRROR=$(cd ../shared/data && pwd)"
fi
