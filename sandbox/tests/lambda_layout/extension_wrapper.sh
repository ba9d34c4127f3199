#!/bin/bash
# The launcher Lambda finds in /opt/extensions: the extension's name is
# the file's name, and its code lives in /opt/<name>/.
set -euo pipefail
NAME="$(basename "$0")"
echo "[$NAME] launching"
if [ -f "/opt/$NAME/index.js" ]; then
  exec node "/opt/$NAME/index.js"
fi
exec "/opt/$NAME/extension.py"
