#!/usr/bin/env bash
# supervisord event listener (supervisord.conf, events=PROCESS_STATE_FATAL). A program that cannot be started
# (it exited before startsecs, startretries times: a bad setting, a model that does not load) would otherwise
# leave the container up without it, answering nothing or only health checks. This asks supervisord to stop
# everything and exit, so the container ends (with status 1, see entrypoint.sh) and its log says which program.
# The protocol: print READY, read a header line and a payload of the header's len bytes, answer RESULT 2\nOK.
set -u
export LC_ALL=C # len counts bytes

echo READY
while IFS= read -r header; do
  length=${header##*len:}
  length=${length%% *}
  IFS= read -r -N "$length" payload || true
  program=${payload#*processname:}
  program=${program%% *}
  echo "[all-in-one] $program could not be started (FATAL): stopping every program" >&2
  # entrypoint.sh reads it to exit 1 once supervisord is gone.
  printf '%s\n' "$program" >"$RUN_DIR/fatal"
  # supervisord started this listener: SIGTERM makes it stop the programs in order and exit.
  kill -TERM "$PPID"
  printf 'RESULT 2\nOK'
  echo READY
done
