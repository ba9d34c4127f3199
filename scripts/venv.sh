# Sourced by the other scripts: project-local virtualenvs with the Python
# tools the checks use, each reinstalled when its requirements file changes.
#   .venv          scripts/requirements.txt (cargo-lambda and zig, aws-sam-cli
#                  with cfn-lint, python-hcl2), on PATH
#   .venv-checkov  scripts/requirements-checkov.txt (checkov pins other boto3
#                  versions than aws-sam-cli), through `checkov_venv`
scripts_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

ensure_venv() { # venv-dir requirements-file
  if ! cmp -s "$2" "$1/requirements.txt"; then
    echo "installing the Python tools of $(basename "$2") into $1" >&2
    rm -rf "$1"
    python3 -m venv "$1"
    "$1/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check -r "$2"
    cp "$2" "$1/requirements.txt"
  fi
}

checkov_venv() {
  ensure_venv "$scripts_dir/../.venv-checkov" "$scripts_dir/requirements-checkov.txt"
  echo "$scripts_dir/../.venv-checkov"
}

venv="$scripts_dir/../.venv"
ensure_venv "$venv" "$scripts_dir/requirements.txt"
export PATH="$(cd "$venv" && pwd)/bin:$PATH"
