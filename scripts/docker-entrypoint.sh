#!/bin/sh
# Entry point of the Tessera image: `tessera <service> [flags]` runs that service's TypeScript entry point
# through tsx. `exec` makes node the container's main process, so SIGTERM from `docker stop` or Kubernetes
# reaches the service's graceful shutdown directly.
# TESSERA_HOME points at the installation (/app in the image; tests run this script against the repository).
set -eu
home="${TESSERA_HOME:-/app}"

usage() {
  cat <<'EOF'
Usage: tessera <service> [flags]

Services:
  pd      placement driver: timestamps, ids, cluster metadata, scheduling (gRPC 2379, HTTP 2378)
  store   tikv-store: multi-raft key-value storage (gRPC 20160, status 20180)
  ctl     operator CLI (ctl pd store list --pd http://pd:2378)

`tessera <service> --help` lists the service's settings; each is also read from TESSERA_PD_* or
TESSERA_STORE_* environment variables.
EOF
}

service="${1:-}"
case "$service" in
  pd) entry=services/pd/src/main.ts ;;
  store) entry=services/tikv-store/src/main.ts ;;
  ctl) entry=services/ctl/src/main.ts ;;
  -h | --help | help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    echo "tessera: unknown service \"$service\"" >&2
    exit 2
    ;;
esac
shift
# node resolves `--import tsx` from the working directory, so run from the installation.
cd "$home"
exec node --import tsx "$home/$entry" "$@"
