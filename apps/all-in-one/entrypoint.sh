#!/usr/bin/env bash
# Entry point of the all-in-one image (apps/all-in-one/Dockerfile): the gateway, one inference worker and a
# private Redis in one container, for a Hugging Face Space (docs/deployment.md, "One container").
#
# 1. Checks the configuration before anything is downloaded or started.
# 2. Pulls the pinned model into DATA_DIR (persistent storage) with model:pull, which checks every file against
#    the Hub's listing; a pull that is already there downloads nothing. Then the graph's sha256 must be
#    MODEL_SHA256: a graph changed on disk is deleted and pulled again, a download that is not the pinned graph
#    is deleted and the container stops.
# 3. Writes Redis's configuration with a password made for this start (never printed; it reaches the apps in
#    REDIS_URL), Redis bound to 127.0.0.1 with its append-only file in DATA_DIR.
# 4. Runs supervisord (supervisord.conf beside this script), which starts Redis, the worker and the gateway,
#    restarts whichever dies, and on SIGTERM stops them in the reverse order and exits; so does this script,
#    with status 1 when a program could not be started at all.
#
# Every path and port is a variable, so apps/e2e/src/all-in-one.e2e-spec.ts runs this very script outside Docker
# against the apps built in dist/. tools/deploy-checks checks it against the Dockerfile, supervisord.conf and
# the apps' variables. Lint: shellcheck apps/all-in-one/*.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ---- settings: the variables this script reads besides the apps' own, each with its default ----
: "${DATA_DIR:=/data}"                   # persistent storage (a Space's /data): the model, Redis's data
: "${RUN_DIR:=/tmp/all-in-one}"          # this start's files: redis.conf (with the password), supervisord's pid
: "${GATEWAY_DIR:=/app/gateway}"         # the built gateway (main.js and its node_modules)
: "${WORKER_DIR:=/app/inference-worker}" # the built inference worker
: "${MODEL_PULL_JS:=/app/model-pull.js}" # the model:pull CLI (tools/model-pull), bundled
: "${REDIS_PORT:=6379}"                  # on 127.0.0.1 only
: "${REDIS_MAXMEMORY:=1gb}"              # at the cap Redis refuses writes (noeviction): 503 store_full, no lost job
: "${MODEL_REPO:=Xenova/twitter-roberta-base-sentiment-latest}"
: "${MODEL_REVISION:=}"                  # required: the commit of MODEL_REPO to serve (40 hex digits)
: "${MODEL_SHA256:=}"                    # required: the sha256 of that commit's graph
: "${MODEL_VARIANT:=fp32}"               # read by the worker too: fp32 onnx/model.onnx, int8 onnx/model_quantized.onnx
: "${MODEL_DIR:=$DATA_DIR/models/${MODEL_REPO##*/}}" # read by the worker too
: "${MODEL_CACHE_DIR:=$DATA_DIR/model-cache}"        # read by the worker: versions promoted later
export DATA_DIR RUN_DIR GATEWAY_DIR WORKER_DIR MODEL_VARIANT MODEL_DIR MODEL_CACHE_DIR

log() { printf '[all-in-one] %s\n' "$*" >&2; }
fail() {
  log "$*"
  exit 1
}

# ---- 1. configuration ----
how_to_pin="pull it once where you can (npm run model:pull -- --repo $MODEL_REPO --revision main --out /tmp/m): \
MODEL_REVISION is \"revision\" in /tmp/m/.model-pull.json, MODEL_SHA256 is the output of sha256sum /tmp/m/onnx/model.onnx"
[[ $MODEL_REVISION =~ ^[0-9a-f]{40}$ ]] ||
  fail "MODEL_REVISION must be a commit of $MODEL_REPO (40 hex digits), not \"$MODEL_REVISION\"; $how_to_pin"
[[ $MODEL_SHA256 =~ ^[0-9a-f]{64}$ ]] ||
  fail "MODEL_SHA256 must be the sha256 of the model's graph (64 hex digits), not \"$MODEL_SHA256\"; $how_to_pin"
case $MODEL_VARIANT in
  fp32) graph=onnx/model.onnx ;;
  int8) graph=onnx/model_quantized.onnx ;;
  *) fail "MODEL_VARIANT must be fp32 or int8, not \"$MODEL_VARIANT\"" ;;
esac

# The gateway's own rule (libs/http-edge, SECURITY.md), checked here so a Space without keys says so at once
# instead of after the model download.
host=${HOST:-0.0.0.0}
if [[ -z ${API_KEYS:-} && ${AUTH:-on} != off && $host != localhost && $host != ::1 &&
  ! $host =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  fail "HOST=$host is reachable from other machines and API_KEYS is not set: set API_KEYS (a Space secret), \
or AUTH=off (a Space variable) to serve the demo without keys on purpose"
fi

for tool in node redis-server supervisord sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is not on the PATH"
done
for file in "$GATEWAY_DIR/main.js" "$WORKER_DIR/main.js" "$MODEL_PULL_JS" "$HERE/supervisord.conf"; do
  [[ -f $file ]] || fail "$file is missing"
done
if [[ -n ${REDIS_URL:-}${REDIS_SENTINELS:-} ]]; then
  log "REDIS_URL and REDIS_SENTINELS are ignored: this container runs its own Redis"
fi
unset REDIS_SENTINELS REDIS_SENTINEL_NAME REDIS_SENTINEL_PASSWORD

if ! mkdir -p "$DATA_DIR/redis" "$(dirname "$MODEL_DIR")" "$MODEL_CACHE_DIR" || [[ ! -w $DATA_DIR ]]; then
  fail "DATA_DIR=$DATA_DIR is not writable by uid $(id -u): mount a volume there (a Space's persistent storage \
is /data) or point DATA_DIR at a writable folder"
fi
mkdir -p "$RUN_DIR"
chmod 700 "$RUN_DIR"

# ---- 2. the model ----
# Runs a command in the background and waits for it, so a SIGTERM (docker stop) stops it: as PID 1 this shell
# would ignore signals it does not trap.
run_stoppable() {
  local child status=0
  "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; log "stopped before the start"; exit 143' TERM INT
  wait "$child" || status=$?
  trap - TERM INT
  return "$status"
}
pull_model() {
  run_stoppable node "$MODEL_PULL_JS" --repo "$MODEL_REPO" --revision "$MODEL_REVISION" \
    --variant "$MODEL_VARIANT" --out "$MODEL_DIR" ||
    fail "model:pull failed (above); nothing was started"
}
graph_sha256() {
  if [[ -f $MODEL_DIR/$graph ]]; then sha256sum "$MODEL_DIR/$graph" | cut -d' ' -f1; else echo none; fi
}
# Whether DATA_DIR already holds the pinned commit and variant (model:pull's record), checked before pulling.
pulled_before() {
  node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    process.exit(m.revision === process.argv[2] && m.variant === process.argv[3] ? 0 : 1)' \
    "$MODEL_DIR/.model-pull.json" "$MODEL_REVISION" "$MODEL_VARIANT" 2>/dev/null
}

if pulled_before; then present=true; else present=false; fi
pull_model
actual=$(graph_sha256)
if [[ $actual != "$MODEL_SHA256" && $present == true ]]; then
  log "$MODEL_DIR/$graph has sha256 $actual, not MODEL_SHA256 $MODEL_SHA256: it changed on disk since it was \
pulled; deleting the folder and pulling it again"
  rm -rf "$MODEL_DIR"
  pull_model
  actual=$(graph_sha256)
fi
if [[ $actual != "$MODEL_SHA256" ]]; then
  rm -rf "$MODEL_DIR"
  fail "refusing to start: $graph of $MODEL_REPO at $MODEL_REVISION has sha256 $actual, but MODEL_SHA256 pins \
$MODEL_SHA256; the download is deleted. Check the pin (MODEL_REVISION and the sha256 of that commit's $graph) \
and HF_ENDPOINT if it names a mirror"
fi
log "model: $MODEL_DIR/$graph matches MODEL_SHA256 ($MODEL_REPO at $MODEL_REVISION, $MODEL_VARIANT)"

# ---- 3. Redis ----
password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(
  umask 077
  cat >"$RUN_DIR/redis.conf" <<REDIS
# Written by entrypoint.sh at each start; the password is new each time.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
requirepass $password
dir "$DATA_DIR/redis"
appendonly yes
appendfsync everysec
save ""
maxmemory $REDIS_MAXMEMORY
maxmemory-policy noeviction
REDIS
)
export REDIS_URL="redis://:$password@127.0.0.1:$REDIS_PORT"
unset password

# ---- 4. supervisord ----
# Not exec'd: this shell stays PID 1, passes SIGTERM and SIGINT on, and exits 1 when exit-on-fatal.sh stopped
# supervisord because a program could not be started (it leaves RUN_DIR/fatal), which supervisord's own exit
# status does not tell.
rm -f "$RUN_DIR/fatal"
# supervisord opens /dev/stdout and /dev/stderr for the programs' logs, which fails (ENXIO) when they are sockets
# (a process manager's, or Node's child_process); through a pipe to cat it works wherever the output goes.
if [[ ! -p /dev/stdout && ! -t 1 ]]; then exec 1> >(exec cat); fi
if [[ ! -p /dev/stderr && ! -t 2 ]]; then exec 2> >(exec cat >&2); fi
log "starting Redis (127.0.0.1:$REDIS_PORT), the inference worker and the gateway ($host:${PORT:-3000}) under supervisord"
supervisord --nodaemon --configuration "$HERE/supervisord.conf" &
supervisor=$!
trap 'kill -TERM "$supervisor" 2>/dev/null || true' TERM INT
while :; do
  status=0
  wait "$supervisor" || status=$?
  # wait also returns when a trapped signal arrives; supervisord is still stopping the programs then.
  kill -0 "$supervisor" 2>/dev/null || break
done
if [[ -s $RUN_DIR/fatal ]]; then
  fail "stopped because $(<"$RUN_DIR/fatal") could not be started (its log is above)"
fi
log "stopped (supervisord exited with $status)"
exit "$status"
