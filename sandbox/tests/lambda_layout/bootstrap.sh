#!/bin/bash
# A custom runtime that trusts Lambda's layout: it sets the task root to
# /var/task itself and sources its handler from there.
set -euo pipefail
export LAMBDA_TASK_ROOT=/var/task
source "$LAMBDA_TASK_ROOT/function.sh"

# Something that outlives its parent on purpose: its own session, deaf to
# SIGTERM. Only the end of the environment's PID namespace stops it.
if [ -n "${DAEMON_NAME:-}" ]; then
  setsid bash -c "trap '' TERM; exec -a '$DAEMON_NAME' sleep 600" </dev/null >/dev/null 2>&1 &
fi

trap 'echo "runtime exiting at $(date +%s%3N)"; exit 0' TERM
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$(handler "$EVENT")
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE" >/dev/null
done
