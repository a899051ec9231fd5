# Sourced by .ci/run (after .ci/system-deps.sh installed Debian's postgresql).
#
# Starts a THROWAWAY PostgreSQL cluster for the distributed tests: a fresh data
# directory under $TMPDIR, listening on 127.0.0.1 only, on a free port, with a
# generated password (scram-sha-256), then exports
#   HPSEARCH_TEST_PG_URL=postgresql+psycopg://hpsearch:PASSWORD@127.0.0.1:PORT/hpsearch_test
# and, for the tests that restart it, HPSEARCH_TEST_PG_DATA (its data directory) and
# HPSEARCH_TEST_PG_BIN (the directory of its pg_ctl).
# An EXIT trap stops the server and deletes the directory. Every run gets its
# own directory and port, so a run killed before its trap fired cannot break
# the next one. Debian's own service cluster (5432) is never used: CI may have
# no init system.
#
# Sourced, so: no `exit`, only functions with local variables, and a non-zero
# return (which aborts .ci/run under `set -e`) when a server that exists fails
# to start. With no PostgreSQL binary at all it warns and returns 0; the
# distributed tests then fail under CI=true with the reason.

_hps_pg_bindir() {
    # Newest installed server version; Debian keeps initdb off PATH.
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        echo "$d"
    elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

_hps_pg_free_port() {
    # Ask the kernel for a free loopback port (a tiny race remains; start
    # retries with a new port when the server cannot bind).
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_hps_pg_as_owner() {
    # initdb and postgres refuse to run as root: run them as the `postgres`
    # OS user when we are root, as ourselves otherwise. cd into the data
    # directory's parent so the tools do not warn about an unreadable $PWD.
    if [ "$(id -u)" = 0 ]; then
        (cd "$_HPS_PG_DIR" && runuser -u postgres -- "$@")
    else
        (cd "$_HPS_PG_DIR" && "$@")
    fi
}

_hps_pg_stop() {
    if [ -n "${_HPS_PG_DIR:-}" ] && [ -d "$_HPS_PG_DIR" ]; then
        if [ -f "$_HPS_PG_DIR/data/postmaster.pid" ]; then
            _hps_pg_as_owner "$_HPS_PG_BIN/pg_ctl" -D "$_HPS_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$_HPS_PG_DIR"
    fi
}

_hps_pg_start() {
    local bindir port password attempt url
    bindir=$(_hps_pg_bindir)
    if [ -z "$bindir" ]; then
        echo "start-postgres: no PostgreSQL server binary (initdb) found; install Debian's postgresql. Distributed tests will not run." >&2
        return 0
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "start-postgres: running as root but there is no 'postgres' OS user to run the server as" >&2
        return 1
    fi
    _HPS_PG_BIN=$bindir
    _HPS_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hpsearch-pg.XXXXXX")
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    printf '%s\n' "$password" >"$_HPS_PG_DIR/pwfile"
    chmod 600 "$_HPS_PG_DIR/pwfile"
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres: "$_HPS_PG_DIR"
    fi
    # Chain onto any EXIT trap already set by the sourcing script.
    local previous_trap
    previous_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
    # shellcheck disable=SC2064
    trap "_hps_pg_stop; ${previous_trap:-:}" EXIT

    if ! _hps_pg_as_owner "$bindir/initdb" -D "$_HPS_PG_DIR/data" -U hpsearch \
            --pwfile="$_HPS_PG_DIR/pwfile" --auth=scram-sha-256 \
            --encoding=UTF8 --no-locale >"$_HPS_PG_DIR/initdb.log" 2>&1; then
        echo "start-postgres: initdb failed:" >&2
        cat "$_HPS_PG_DIR/initdb.log" >&2
        return 1
    fi
    for attempt in 1 2 3; do
        port=$(_hps_pg_free_port)
        # Sockets go into our own directory: /var/run/postgresql may not exist.
        if _hps_pg_as_owner "$bindir/pg_ctl" -D "$_HPS_PG_DIR/data" -l "$_HPS_PG_DIR/server.log" -w -t 60 \
                -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$_HPS_PG_DIR -c max_connections=200 -c fsync=off" \
                start >/dev/null 2>&1; then
            break
        fi
        port=""
    done
    if [ -z "$port" ]; then
        echo "start-postgres: the server did not start; its log:" >&2
        cat "$_HPS_PG_DIR/server.log" >&2 || true
        return 1
    fi
    if ! PGPASSWORD=$password "$bindir/psql" -h 127.0.0.1 -p "$port" -U hpsearch -d postgres \
            -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE hpsearch_test" >&2; then
        echo "start-postgres: could not create the test database" >&2
        return 1
    fi
    url="postgresql+psycopg://hpsearch:${password}@127.0.0.1:${port}/hpsearch_test"
    export HPSEARCH_TEST_PG_URL=$url
    # For the tests that restart the server mid-study (pg_ctl restart -m fast).
    export HPSEARCH_TEST_PG_DATA=$_HPS_PG_DIR/data
    export HPSEARCH_TEST_PG_BIN=$bindir
    echo "start-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $_HPS_PG_DIR, removed on exit)" >&2
}

_hps_pg_start
