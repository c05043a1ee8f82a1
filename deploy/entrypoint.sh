#!/bin/sh
# Container entrypoint: optionally migrate, then run what SERVICE names.
#
#   SERVICE=identity|tickets|notifications|automation|timetracking|integrations
#           one service per process (`deskline serve`), as operators run it;
#   SERVICE=all (default) every service in one process (`deskline run`).
#   DESKLINE_MIGRATE_ON_START=true runs `deskline migrate` for that service
#           (or all of them) first; with several replicas prefer the one-shot
#           `migrate` container of docker-compose.yml instead.
#   PORT    HTTP port (default 8000).
#
# Arguments replace the server command, e.g. `docker run IMAGE deskline migrate`.
set -eu

SERVICE="${SERVICE:-all}"
PORT="${PORT:-8000}"

case "$SERVICE" in
    all | identity | tickets | notifications | automation | timetracking | integrations) ;;
    *)
        echo "deskline-entrypoint: unknown SERVICE '$SERVICE' (expected all, identity, tickets, notifications, automation, timetracking or integrations)" >&2
        exit 64
        ;;
esac

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

if [ "${DESKLINE_MIGRATE_ON_START:-false}" = "true" ]; then
    if [ "$SERVICE" = "all" ]; then
        deskline migrate
    else
        deskline migrate "$SERVICE"
    fi
fi

if [ "$SERVICE" = "all" ]; then
    exec deskline run --host 0.0.0.0 --port "$PORT"
fi
exec deskline serve "$SERVICE" --host 0.0.0.0 --port "$PORT"
