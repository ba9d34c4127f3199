# What the function sees of its machine, as JSON.
handler () {
  touch /var/task/probe 2>/dev/null && task=writable || task=read-only
  touch /opt/probe 2>/dev/null && opt=writable || opt=read-only
  echo "$1" > "/tmp/${TMP_MARKER:-event}.json"
  printf '{"task_root":"%s","opt":"%s","pid1":"%s","tmp_mb":%s,"sandbox_localdomain":"%s","cwd":"%s"}' \
    "$task" "$opt" "$(cat /proc/1/comm)" \
    "$(df -m --output=size /tmp | tail -1 | tr -d ' ')" \
    "$(getent hosts sandbox.localdomain | awk '{print $1}')" "$(pwd)"
}
