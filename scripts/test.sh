#!/usr/bin/env bash
# The README's test command: set up .venv, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh >/dev/null
if [ -z "${CNMAP_DATA_MIRROR:-}" ] && [ -d ../shared/data ]; then
  export CNMAP_DATA_MIRROR="$(cd ../shared/data && pwd)"
fi
# headless Chromium for the browser tests (Debian packages), installed when missing
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing Debian chromium for the browser tests ..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "warning: could not install chromium; browser tests will be skipped"
fi
exec .venv/bin/python -m pytest "$@"
