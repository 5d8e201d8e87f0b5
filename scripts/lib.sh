# shellcheck shell=bash
# Shared helpers for kubelab's scripts: paths, secrets, logging. Sourced, never run.
set -euo pipefail
KUBELAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR="$KUBELAB_ROOT/var"
VENV="$KUBELAB_ROOT/.venv"
# shellcheck disable=SC2034 # used by the scripts that source this file
PY="$VENV/bin/python"
mkdir -p "$VAR" "$VAR/run/terminal" "$VAR/cluster/pods"
# Traversable, not listable: jails (their own uids) reach their session and pod directories
# through these; everything else under var/ is private to kubelab (scripts/run sets umask 077).
chmod 711 "$VAR" "$VAR/run" "$VAR/run/terminal" "$VAR/cluster" "$VAR/cluster/pods"

say() { printf '\033[1;34m[kubelab]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[kubelab]\033[0m %s\n' "$*" >&2; exit 1; }

# Secrets are generated once per checkout into var/secrets.env (git-ignored, mode 600);
# anything already set in the environment wins.
secrets_load() {
  local f="$VAR/secrets.env" name
  # Each secret is generated once; one added in a later version is appended to an older file.
  (
    umask 077
    touch "$f"
    for name in KUBELAB_SECRET_KEY:48 KUBELAB_REDIS_PASSWORD:24 KUBELAB_PG_PASSWORD:24 KUBELAB_HEALTH_TOKEN:24; do
      grep -q "^${name%%:*}=" "$f" ||
        echo "${name%%:*}=$(head -c "${name##*:}" /dev/urandom | base64 | tr -d '/+=\n')" >>"$f"
    done
  )
  local line key
  while IFS= read -r line; do
    key=${line%%=*}
    # shellcheck disable=SC2163 # $line is a whole NAME=value assignment, exported as it stands
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
