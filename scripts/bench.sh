#!/usr/bin/env bash
# Run every benchmark in bench/ and regenerate docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
if [ -z "${CNMAP_DATA_MIRROR:-}" ] && [ -d ../shared/data ]; then
  export CNMAP_DATA_MIRROR="$(cd ../shared/data && pwd)"
fi
for b in bench/bench_*.py; do
  m=$(basename "$b" .py)
  echo "== $m"
  .venv/bin/python -m "bench.$m"
done
