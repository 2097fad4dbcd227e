#!/usr/bin/env bash
# The README's main job: set up .venv, then run the Birmingham analysis into output/birmingham/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
if [ -z "${CNMAP_DATA_MIRROR:-}" ] && [ -d ../shared/data ]; then
  export CNMAP_DATA_MIRROR="$(cd ../shared/data && pwd)"
fi
exec .venv/bin/cnmap run configs/birmingham.toml "$@"
