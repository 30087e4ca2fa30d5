#!/usr/bin/env bash
# The test command (npm test): formatting, lint with module boundaries, type checks, unit tests,
# integration tests against the real Redis, then end-to-end tests of the built apps.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true

# The tests run these programs for real; say at once which are missing rather than fail deep inside a suite.
missing=()
for program in redis-server promtool prometheus prometheus-redis-exporter supervisord shellcheck; do
  command -v "$program" >/dev/null || missing+=("$program")
done
if ((${#missing[@]} > 0)); then
  echo "npm test needs ${missing[*]} on the PATH (Debian/Ubuntu: apt-get install redis-server redis-sentinel" \
    "prometheus prometheus-redis-exporter supervisor shellcheck; .ci/run installs them)" >&2
  exit 1
fi

npx prettier --check .
npx nx run-many -t lint typecheck test
npx nx run-many -t integration
npx nx run-many -t build
npx nx run e2e:e2e
