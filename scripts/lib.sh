# Shared helpers for kubelab's scripts: paths, secrets, logging. Sourced, never run.
set -euo pipefail
KUBELAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR="$KUBELAB_ROOT/var"
VENV="$KUBELAB_ROOT/.venv"
PY="$VENV/bin/python"
mkdir -p "$VAR"

say() { printf '\033[1;34m[kubelab]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[kubelab]\033[0m %s\n' "$*" >&2; exit 1; }

# Secrets are generated once per checkout into var/secrets.env (git-ignored, mode 600);
# anything already set in the environment wins.
secrets_load() {
  local f="$VAR/secrets.env"
  if [ ! -f "$f" ]; then
    umask 077
    {
      echo "KUBELAB_SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
      echo "KUBELAB_REDIS_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')"
      echo "KUBELAB_PG_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')"
    } >"$f"
    umask 022
  fi
  local line key
  while IFS= read -r line; do
    key=${line%%=*}
    [ -n "${!key:-}" ] || export "$line"
  done <"$f"
}

KUBELAB_REDIS_PORT=${KUBELAB_REDIS_PORT:-6390}
KUBELAB_PG_PORT=${KUBELAB_PG_PORT:-5439}
KUBELAB_PORT=${KUBELAB_PORT:-8000}

# The environment the app needs, derived from the secrets and ports above.
app_env() {
  secrets_load
  export KUBELAB_REDIS_URL=${KUBELAB_REDIS_URL:-redis://:$KUBELAB_REDIS_PASSWORD@127.0.0.1:$KUBELAB_REDIS_PORT/0}
  export PYTHONUNBUFFERED=1
}

postgres_url() {
  echo "postgres://kubelab:$KUBELAB_PG_PASSWORD@127.0.0.1:$KUBELAB_PG_PORT/kubelab"
}

# Run a command as an unprivileged system user when we are root (PostgreSQL refuses root).
as_user() {
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}
