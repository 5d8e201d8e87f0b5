"""A scenario's namespaces as the learner's own: the `kubectl` that an imported scenario's steps
and script checks run (labs with ``scenario: true``).

Killercoda scenarios are written for a cluster of one's own: they make namespaces, pass
``-n ios`` (often through a shell variable, ``-n "$NS"``) and pin ``namespace: ios`` in the
manifests they pipe to kubectl. No text rewrite can find a variable's value, so the mapping
happens where the value is known, in the command: a small ``kubectl`` put first on the jail's
PATH turns every namespace flag and manifest namespace into the learner's, answers for the
namespace objects themselves (creating, reading or waiting for ``ios`` is the learner's
namespace, which exists), and runs the real kubectl. It runs in the learner's jail with the
learner's token, so it grants nothing: RBAC still decides every request.
"""

from __future__ import annotations

SHIM_FILE = "kubelab-scenario-kubectl"

# bash is in every jail (the terminal's shell). The real kubectl's path and the namespace come
# from the prelude, read once per script.
SHIM = r"""#!/bin/bash
real="${KUBELAB_REAL_KUBECTL:?}"
ns="${KUBELAB_NAMESPACE:?}"
args=()
rest=()
expect=""
ended=0
for word in "$@"; do
  if [ "$ended" = 1 ]; then rest+=("$word"); continue; fi
  if [ -n "$expect" ]; then
    if [ "$expect" = ns ]; then args+=("$ns"); else args+=("$word"); fi
    expect=""; continue
  fi
  case "$word" in
    --) ended=1; rest+=("$word") ;;
    -n|--namespace) args+=("--namespace"); expect=ns ;;
    --namespace=*|-n?*) args+=("--namespace=$ns") ;;
    -A|--all-namespaces|--all-namespaces=true) args+=("--namespace=$ns") ;;
    -f|--filename) args+=("$word"); expect=file ;;
    *) args+=("$word") ;;
  esac
done
set -- "${args[@]}"

# The namespace objects: the learner's own stands for every namespace the scenario names.
verb="$1"; kind="$2"
case "$kind" in
  ns|namespace|namespaces|ns/*|namespace/*|namespaces/*)
    case "$verb" in
      create)
        name="${3:-${kind#*/}}"
        case " $* " in
          *" --dry-run"*)
            printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$name" ;;
          *) echo "namespace/$name created" ;;
        esac
        exit 0 ;;
      get|describe|wait)
        case " $* " in
          *" -o name "*|*" --output=name "*|*" -oname "*) echo "namespace/$ns"; exit 0 ;;
        esac
        exec "$real" "$verb" namespace "$ns" "${@:4}" ;;
    esac ;;
esac

# Manifests name their namespace too; a file or stdin is mapped on its way to kubectl.
mapped=()
work=""
for ((i = 1; i <= $#; i++)); do
  word="${!i}"
  mapped+=("$word")
  case "$word" in -f|--filename) ;; *) continue ;; esac
  i=$((i + 1)); file="${!i}"
  [ -n "$work" ] || work="$(mktemp -d)"
  out="$work/m$i.yaml"
  if [ "$file" = - ]; then src=/dev/stdin; else src="$file"; fi
  if [ -f "$src" ] || [ "$src" = /dev/stdin ]; then
    # Namespace objects are dropped (the learner's exists); every other namespace becomes theirs.
    awk -v ns="$ns" '
      function flush() {
        if (doc != "" && !skip) { printf "%s", sep doc; sep = "---\n"; kept++ }
        doc = ""; skip = 0
      }
      /^---/ { flush(); next }
      /^kind:[[:space:]]*Namespace[[:space:]]*$/ { skip = 1 }
      {
        line = $0
        if (match(line, /^[[:space:]]*(- )?namespace:[[:space:]]*/))
          line = substr(line, 1, RLENGTH) ns
        doc = doc line "\n"
      }
      END { flush(); if (!kept) exit 3 }' "$src" > "$out"
    if [ $? = 3 ]; then
      echo "namespace/$ns unchanged (the scenario's namespaces are your own namespace here)"
      exit 0
    fi
    mapped+=("$out")
  else
    mapped+=("$file")
  fi
done
"$real" "${mapped[@]}" "${rest[@]}"
code=$?
[ -z "$work" ] || rm -rf "$work"
exit $code
"""

# Killercoda's machine is root's; here `sudo` is the learner running the command themselves.
SUDO = """#!/bin/sh
exec "$@"
"""

PRELUDE = f"""KUBELAB_REAL_KUBECTL="$(command -v kubectl)"
KUBELAB_NAMESPACE="$("$KUBELAB_REAL_KUBECTL" config view --minify -o jsonpath='{{..namespace}}')"
export KUBELAB_REAL_KUBECTL KUBELAB_NAMESPACE
mkdir -p "$HOME/.kubelab-bin" && cp ./{SHIM_FILE} "$HOME/.kubelab-bin/kubectl" \\
  && printf '%s' '{SUDO}' > "$HOME/.kubelab-bin/sudo" \\
  && chmod 755 "$HOME/.kubelab-bin/kubectl" "$HOME/.kubelab-bin/sudo" \\
  && PATH="$HOME/.kubelab-bin:$PATH" && export PATH
"""


def scenario_script(script: str, files: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The script and files to run in the jail so that every namespace is the learner's."""
    return PRELUDE + script, {**files, SHIM_FILE: SHIM}
