#!/usr/bin/env bash
# Make sure what the tests need is running on this machine:
# PostgreSQL, Redis and RabbitMQ on their default local ports, and nginx (the
# e2e gateway tests run the real thing).
#
# For each server: answering -> fine; installed but stopped -> start it and
# wait (bounded); not installed -> say so and fail. A server whose
# DESKLINE_TEST_<PG|REDIS|AMQP>_URL is set belongs to someone else and is not
# touched. nginx is installed with apt-get when missing, if we are root and
# DESKLINE_NO_APT is unset. Idempotent; well under two seconds when all is up.
set -euo pipefail

readonly WAIT_SECONDS="${DESKLINE_INFRA_WAIT_SECONDS:-60}"
readonly HOST=127.0.0.1
missing=()

say() { printf 'ensure-infra: %s\n' "$*" >&2; }

have() { command -v "$1" > /dev/null 2>&1; }

tcp_open() { # host port
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2> /dev/null
}

wait_until() { # description command...
    local what="$1" deadline=$((SECONDS + WAIT_SECONDS))
    shift
    until "$@"; do
        if ((SECONDS >= deadline)); then
            say "$what did not answer within ${WAIT_SECONDS}s"
            return 1
        fi
        sleep 0.5
    done
}

# --- PostgreSQL ------------------------------------------------------------
pg_up() { pg_isready -q -h "$HOST" -p 5432 -t 2 > /dev/null 2>&1; }

ensure_postgres() {
    if [[ -n "${DESKLINE_TEST_PG_URL:-}" ]]; then
        say "PostgreSQL: DESKLINE_TEST_PG_URL is set, not checking the local server"
        return 0
    fi
    if have pg_isready && pg_up; then
        return 0
    fi
    if ! have pg_ctlcluster || ! compgen -G '/etc/postgresql/*/main' > /dev/null; then
        missing+=("PostgreSQL (no server answers on $HOST:5432 and none is installed; set DESKLINE_TEST_PG_URL or install postgresql)")
        return 0
    fi
    local version
    for version in /etc/postgresql/*/; do
        version="$(basename "$version")"
        say "starting PostgreSQL $version"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    wait_until "PostgreSQL on $HOST:5432" pg_up \
        || missing+=("PostgreSQL (installed, but did not start: see /var/log/postgresql/)")
}

# Every service's engine may hold 20 connections; the split-process e2e tests run six
# services beside the test process's own, past PostgreSQL's default of 100. Raise it on a
# local cluster we administer (root, no DESKLINE_TEST_PG_URL); the restart happens here,
# before any test holds a connection.
readonly PG_CONNECTIONS_NEEDED=300

pg_max_connections() {
    psql -h "$HOST" -U postgres -d postgres -tAc 'SHOW max_connections' 2> /dev/null || echo 0
}

ensure_postgres_connections() {
    if [[ -n "${DESKLINE_TEST_PG_URL:-}" || $EUID -ne 0 ]] || ! have psql || ! pg_up; then
        return 0
    fi
    local current
    current="$(pg_max_connections)"
    if ((current >= PG_CONNECTIONS_NEEDED)) || ! compgen -G '/etc/postgresql/*/main' > /dev/null; then
        return 0
    fi
    say "PostgreSQL allows $current connections: raising to $PG_CONNECTIONS_NEEDED and restarting it"
    psql -h "$HOST" -U postgres -d postgres -qc \
        "ALTER SYSTEM SET max_connections = $PG_CONNECTIONS_NEEDED" > /dev/null || return 0
    local version
    for version in /etc/postgresql/*/; do
        pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main restart || true
    done
    wait_until "PostgreSQL on $HOST:5432" pg_up \
        || missing+=("PostgreSQL (did not come back after raising max_connections)")
}

# --- Redis -----------------------------------------------------------------
redis_up() { [[ "$(redis-cli -h "$HOST" -p 6379 ping 2> /dev/null)" == "PONG" ]]; }

ensure_redis() {
    if [[ -n "${DESKLINE_TEST_REDIS_URL:-}" ]]; then
        say "Redis: DESKLINE_TEST_REDIS_URL is set, not checking the local server"
        return 0
    fi
    if have redis-cli && redis_up; then
        return 0
    fi
    if ! have redis-server || ! have redis-cli; then
        missing+=("Redis (no server answers on $HOST:6379 and redis-server/redis-cli are not installed; set DESKLINE_TEST_REDIS_URL or install redis-server)")
        return 0
    fi
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    wait_until "Redis on $HOST:6379" redis_up \
        || missing+=("Redis (installed, but did not start: see /var/log/redis/ci.log)")
}

# --- RabbitMQ --------------------------------------------------------------
amqp_up() { tcp_open "$HOST" 5672; }

# A broker out of file descriptors (every quorum queue holds some) keeps its port open
# but never answers the AMQP greeting: probe the protocol header, not just the port.
amqp_answers() {
    timeout 10 bash -c "exec 3<>/dev/tcp/$HOST/5672 && printf 'AMQP\\x00\\x00\\x09\\x01' >&3 \
        && head -c 1 <&3 | od -An -tx1 | grep -q 01" 2> /dev/null
}

broker_soft_nofile() { # the running broker's soft open-file limit, or a large number if unknown
    local pid
    pid="$(pgrep -u rabbitmq -f beam.smp | head -n 1 || true)"
    if [[ -z "$pid" || ! -r "/proc/$pid/limits" ]]; then
        echo 1000000
        return 0
    fi
    # "unlimited" (or anything not a number) is plenty.
    awk '/^Max open files/ { print ($4 ~ /^[0-9]+$/) ? $4 : 1000000 }' "/proc/$pid/limits"
}

start_rabbitmq() {
    # The Debian start script switches to the rabbitmq user through su, whose PAM limits
    # decide the broker's open-file limit; the default 1024 is too few for many queues.
    if [[ $EUID -eq 0 && -d /etc/security/limits.d && ! -e /etc/security/limits.d/rabbitmq.conf ]]; then
        echo "rabbitmq - nofile 20000" > /etc/security/limits.d/rabbitmq.conf
    fi
    say "starting RabbitMQ"
    rabbitmq-server -detached || true
}

ensure_rabbitmq() {
    if [[ -n "${DESKLINE_TEST_AMQP_URL:-}" ]]; then
        say "RabbitMQ: DESKLINE_TEST_AMQP_URL is set, not checking the local broker"
        return 0
    fi
    local broker_open_files
    broker_open_files="$(broker_soft_nofile)"
    if amqp_up; then
        if ! have rabbitmqctl || [[ $EUID -ne 0 ]]; then
            return 0
        fi
        if amqp_answers; then
            # A broker started with the default 1024 open files stalls (silently, port
            # still open) once the suite's hundreds of quorum queues hold their files:
            # give it the room now, while it is idle, rather than mid-suite.
            if ((broker_open_files >= 4096)); then
                return 0
            fi
            say "RabbitMQ runs with only $broker_open_files open files: restarting it with more"
        else
            say "RabbitMQ accepts connections but does not answer: restarting it"
        fi
        timeout 60 rabbitmqctl stop > /dev/null 2>&1 || pkill -9 -u rabbitmq beam.smp || true
        sleep 2
    fi
    if ! have rabbitmq-server; then
        missing+=("RabbitMQ (nothing answers on $HOST:5672 and rabbitmq-server is not installed; set DESKLINE_TEST_AMQP_URL or install rabbitmq-server)")
        return 0
    fi
    start_rabbitmq
    if have rabbitmqctl; then
        timeout "$WAIT_SECONDS" rabbitmqctl await_startup > /dev/null 2>&1 || true
    fi
    wait_until "RabbitMQ on $HOST:5672" amqp_up \
        || missing+=("RabbitMQ (installed, but did not start: see /var/log/rabbitmq/)")
}

# --- nginx -----------------------------------------------------------------
nginx_found() { have nginx || [[ -x /usr/sbin/nginx ]]; }

ensure_nginx() {
    if nginx_found; then
        return 0
    fi
    if [[ "$(id -u)" -eq 0 ]] && have apt-get && [[ -z "${DESKLINE_NO_APT:-}" ]]; then
        say "installing nginx-light with apt-get"
        if DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light > /dev/null; then
            nginx_found && return 0
        fi
        missing+=("nginx (apt-get install nginx-light failed)")
        return 0
    fi
    missing+=("nginx (not installed; the e2e gateway tests run it: install nginx-light, or run this script as root with apt-get)")
}

ensure_postgres
ensure_postgres_connections
ensure_redis
ensure_rabbitmq
ensure_nginx

if ((${#missing[@]} > 0)); then
    for item in "${missing[@]}"; do
        say "missing: $item"
    done
    exit 1
fi
