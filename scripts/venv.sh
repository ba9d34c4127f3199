# Sourced by the other scripts: a project-local virtualenv with the Python
# tools the checks use (cargo-lambda, which brings zig; python-hcl2 for the
# Terraform checks), on PATH. Reinstalled when requirements.txt changes.
venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv"
requirements="$(dirname "${BASH_SOURCE[0]}")/requirements.txt"
if ! cmp -s "$requirements" "$venv/requirements.txt"; then
  echo "installing the Python tools of scripts/requirements.txt into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi
export PATH="$venv/bin:$PATH"
