# Sourced by the other scripts: a project-local virtualenv with the Python
# tools the checks use (cargo-lambda, which brings zig), on PATH.
venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv"
if [ ! -x "$venv/bin/cargo-lambda" ]; then
  echo "installing cargo-lambda into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check -r "$(dirname "${BASH_SOURCE[0]}")/requirements.txt"
fi
export PATH="$venv/bin:$PATH"
