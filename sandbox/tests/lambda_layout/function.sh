# What the function sees of its machine, as JSON.
handler () {
  touch /var/task/probe 2>/dev/null && task=writable || task=read-only
  touch /opt/probe 2>/dev/null && opt=writable || opt=read-only
  echo "$1" > "/tmp/${TMP_MARKER:-event}.json"
  # Any HTTP status from the local S3 endpoint shows it is reachable.
  s3=none
  if [ -n "${AWS_ENDPOINT_URL_S3:-}" ]; then
    s3=$(curl -s -o /dev/null -w '%{http_code}' "$AWS_ENDPOINT_URL_S3/" || true)
  fi
  # And the local AppConfig agent's answer, on localhost as on Lambda.
  appconfig=none
  if [ -n "${AWS_APPCONFIG_EXTENSION_HTTP_PORT:-}" ]; then
    appconfig=$(curl -s "http://localhost:$AWS_APPCONFIG_EXTENSION_HTTP_PORT/applications/app/environments/env/configurations/profile" || true)
  fi
  printf '{"task_root":"%s","opt":"%s","pid1":"%s","tmp_mb":%s,"sandbox_localdomain":"%s","cwd":"%s","runtime_api":"%s","s3":"%s","appconfig":"%s"}' \
    "$task" "$opt" "$(cat /proc/1/comm)" \
    "$(df -m --output=size /tmp | tail -1 | tr -d ' ')" \
    "$(getent hosts sandbox.localdomain | awk '{print $1}')" "$(pwd)" \
    "$AWS_LAMBDA_RUNTIME_API" "$s3" "$appconfig"
}
