#!/usr/bin/env bash
# The test command (npm test): formatting, lint with module boundaries, type checks, unit tests,
# integration tests against the real Redis, then end-to-end tests of the built apps.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true

npx prettier --check .
npx nx run-many -t lint typecheck test
npx nx run-many -t integration
npx nx run-many -t build
npx nx run e2e:e2e
