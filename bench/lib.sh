# shellcheck shell=bash
# Helpers shared by bench/registration and bench/list: the work directory, the
# throwaway PostgreSQL cluster, httpd from bench/httpd.conf.in, clients run so that
# Ctrl-C stops them, an OAuth token for the MobileFirst API, and the lines that
# describe the machine. Sourced, never run; sources scripts/lib.sh.
#
# A script sets BENCH_NAME (for messages) and CONNECTIONS (start_httpd: database
# connections, and twice as many httpd threads), and calls bench_traps before it
# starts anything, so that bench_cleanup runs on every exit.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/lib.sh
. "$BENCH_DIR/../scripts/lib.sh"

WORK_DIR=""        # everything this run writes, except results
KEEP_WORK_DIR=0    # 1 when the directory came from PUSH_RUN_DIR
PG_PARENT=""       # from push_unpriv_dir: may be a separate directory under /tmp
PG_DATA=""
HTTPD_PID=""
CHILD_PID=""       # the client (wrk, pgbench, curl) being waited for

# --- cleanup ---------------------------------------------------------------------

# Runs on every exit: nothing of the benchmark may stay running or stay on disk.
bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$CHILD_PID" ] && kill -0 "$CHILD_PID" 2>/dev/null; then
        kill -TERM "$CHILD_PID" 2>/dev/null || true
        wait "$CHILD_PID" 2>/dev/null || true
    fi
    stop_httpd
    [ -n "$PG_DATA" ] && push_pg_stop "$PG_DATA"
    if [ "$KEEP_WORK_DIR" = 0 ] && [ -n "$WORK_DIR" ]; then
        rm -rf "$WORK_DIR"
    fi
    # push_unpriv_dir falls back to its own mktemp directory when nobody cannot
    # reach the one asked for; that one is always ours to remove
    if [ -n "$PG_PARENT" ] && [ "$PG_PARENT" != "$WORK_DIR/pg" ]; then
        rm -rf "$PG_PARENT"
    fi
    exit "$rc"
}

# The traps every benchmark installs once it starts anything.
bench_traps() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

stop_httpd() {
    if [ -n "$HTTPD_PID" ] && kill -0 "$HTTPD_PID" 2>/dev/null; then
        kill -TERM "$HTTPD_PID" 2>/dev/null || true
        wait "$HTTPD_PID" 2>/dev/null || true
    fi
    HTTPD_PID=""
}

# Runs a client in the background and waits for it, so that INT/TERM reach the
# trap at once instead of after the client's run, and the trap can stop the client.
run_client() {
    local rc=0
    "$@" &
    CHILD_PID=$!
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

# --- work directory and PostgreSQL -------------------------------------------------

# setup_work_dir SUBDIR: $PUSH_RUN_DIR/SUBDIR (kept) when PUSH_RUN_DIR is set, else a
# temporary directory (removed on exit).
setup_work_dir() {
    local subdir=$1
    if [ -n "${PUSH_RUN_DIR:-}" ]; then
        mkdir -p "$PUSH_RUN_DIR"
        WORK_DIR="$(cd "$PUSH_RUN_DIR" && pwd)/$subdir"
        KEEP_WORK_DIR=1
        [ ! -f "$WORK_DIR/pg/data/postmaster.pid" ] ||
            push_die "a benchmark's PostgreSQL still runs in $WORK_DIR/pg (another $BENCH_NAME?)"
        # every run starts from an empty database: a cluster left by an earlier run
        # would hold its devices (and its application, session and tokens)
        rm -rf "$WORK_DIR/pg" "$WORK_DIR/httpd"
        mkdir -p "$WORK_DIR"
    else
        WORK_DIR=$(mktemp -d /tmp/mod_push-bench.XXXXXX)
    fi
    # PostgreSQL runs as nobody (see push_unpriv_dir) and must reach its data
    chmod 755 "$WORK_DIR"
}

start_postgres() {
    local port
    PG_PARENT=$(push_unpriv_dir "$WORK_DIR/pg")
    PG_DATA="$PG_PARENT/data"
    port=$(push_free_port)
    # no "fast" argument: fsync and synchronous_commit stay on, as in production
    push_pg_start "$PG_DATA" "$port"
    PUSH_PG="host=127.0.0.1 port=$port user=push dbname=push"
    export PUSH_PG
    PG_BIN=$(push_pg_bindir)
}

# Runs one SQL command; NOTICEs (TRUNCATE ... CASCADE sends one) are not shown.
psql_do() {
    PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" "$PUSH_PG" -qAtX -v ON_ERROR_STOP=1 -c "$1"
}

# --- httpd -----------------------------------------------------------------------

# start_httpd APP: httpd from bench/httpd.conf.in, with 2 x CONNECTIONS threads and
# CONNECTIONS database connections; sets BASE_URL and HTTPD.
start_httpd() {
    BENCH_HTTPD_DIR="$WORK_DIR/httpd"
    BENCH_HTTP_PORT=$(push_free_port)
    BENCH_THREADS=$((CONNECTIONS * 2))
    BENCH_DB_CONNECTIONS=$CONNECTIONS
    BENCH_APP=$1
    MODULES_DIR=$(apxs -q LIBEXECDIR)
    if [ "$(id -u)" -eq 0 ]; then
        USER_LINES=$'User nobody\nGroup nogroup'
    else
        USER_LINES=""
    fi
    export BENCH_HTTPD_DIR BENCH_HTTP_PORT BENCH_THREADS BENCH_DB_CONNECTIONS BENCH_APP MODULES_DIR USER_LINES
    export PUSH_MODULE_SO PUSH_PG
    mkdir -p "$BENCH_HTTPD_DIR/htdocs"
    push_render "$BENCH_DIR/httpd.conf.in" "$WORK_DIR/httpd.conf"

    HTTPD=$(command -v apache2 || command -v httpd || echo /usr/sbin/apache2)
    "$HTTPD" -t -f "$WORK_DIR/httpd.conf" >"$WORK_DIR/httpd-check.log" 2>&1 ||
        { cat "$WORK_DIR/httpd-check.log" >&2; push_die "the generated httpd configuration is invalid"; }
    "$HTTPD" -f "$WORK_DIR/httpd.conf" -DFOREGROUND &
    HTTPD_PID=$!
    BASE_URL="http://127.0.0.1:$BENCH_HTTP_PORT"
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$BASE_URL/" && return 0
        kill -0 "$HTTPD_PID" 2>/dev/null ||
            { tail -20 "$BENCH_HTTPD_DIR/error_log" >&2 || true; push_die "httpd did not start"; }
        sleep 0.1
    done
    push_die "httpd did not answer on $BASE_URL"
}

httpd_log_tail() {
    tail -20 "$BENCH_HTTPD_DIR/error_log" >&2 || true
}

# json_get KEY: the top-level string or number KEY of the JSON document on stdin,
# with perl's core JSON::PP (perl is needed anyway: push_free_port).
json_get() {
    perl -MJSON::PP -e 'local $/; my $v = eval { decode_json(<STDIN>)->{$ARGV[0]} };
        defined $v or exit 1; print "$v\n"' "$1"
}

# oauth_bearer_token CLIENT_ID: a client with scope "*" (pushctl client add prints
# its secret), then a token for it from the OAuth endpoint, as an app would get one.
# Prints the access token. httpd must run (start_httpd).
oauth_bearer_token() {
    local client=$1 secret status token
    secret=$("$PUSHCTL" client add "$client" --scope "*")
    [ -n "$secret" ] || push_die "pushctl client add printed no secret"
    status=$(curl -s -o "$WORK_DIR/oauth-token.json" -w '%{http_code}' -u "$client:$secret" \
        -d grant_type=client_credentials "$BASE_URL/mfp/api/az/v1/token")
    token=$(json_get access_token <"$WORK_DIR/oauth-token.json" 2>/dev/null || true)
    if [ "$status" != 200 ] || [ -z "$token" ]; then
        cat "$WORK_DIR/oauth-token.json" >&2 || true
        httpd_log_tail
        push_die "the token endpoint answered $status without an access_token"
    fi
    printf '%s\n' "$token"
}

# --- report ----------------------------------------------------------------------

# Which code was measured: the commit the working tree is on (uncommitted changes,
# if any, are measured too), and the schema version. git rev-parse only reads.
source_line() {
    local commit
    commit=$(git -C "$PUSH_TOP" rev-parse --short HEAD 2>/dev/null) || commit=""
    printf '# mod_push built from the working tree at %s; schema version %s\n' \
        "${commit:-(not a git checkout)}" \
        "$(psql_do "SELECT max(version) FROM push_schema_version")"
}

# How busy all cores are over one second, in percent, from /proc/stat. (The load
# average would still count a benchmark that just ended.)
cpu_busy_percent() {
    local a b
    a=$(head -1 /proc/stat)
    sleep 1
    b=$(head -1 /proc/stat)
    # fields after "cpu": user nice system idle iowait irq softirq steal ...
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x); split(b, y)
        for (i = 2; i <= 9; i++) total += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%d", (total > 0 ? 100 * (total - idle) / total : 0)
    }'
}

# --- other work on the machine ------------------------------------------------------
#
# The CPU time other work takes while a measurement runs: all the machine's user and
# system time (from /proc/stat) minus what the benchmark's own processes took, these
# being PostgreSQL's postmaster and its children, httpd and its children, and this
# script with everything it ran (wrk, pgbench, curl, psql: the times of waited-for
# children go to their parent, so exited ones count too). Interrupt time is left out
# on both sides: loopback networking is the benchmark's own but is not charged to a
# process. other_cpu_start, then other_cpu_end prints the percentage of the whole
# machine (all cores) that other processes took in between.

# user + nice + system jiffies of the whole machine, and the total
machine_jiffies() {
    awk '/^cpu / { print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat
}

# jiffies of the benchmark's processes (see above)
own_jiffies() {
    local parents=("$$") pm="" p
    [ -n "$PG_DATA" ] && [ -r "$PG_DATA/postmaster.pid" ] && pm=$(head -1 "$PG_DATA/postmaster.pid")
    [ -n "$pm" ] && parents+=("$pm")
    [ -n "$HTTPD_PID" ] && parents+=("$HTTPD_PID")
    {
        for p in "${parents[@]}"; do
            # a parent with its reaped children (cutime, cstime) ...
            [ -r "/proc/$p/stat" ] && sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 + $14 + $15 }'
            # ... and its live children (their own times only: they reach the parent's
            # cutime when reaped); this script's live children are counted when they end
            [ "$p" = "$$" ] && continue
            for c in $(pgrep -P "$p" 2>/dev/null); do
                [ -r "/proc/$c/stat" ] && sed 's/.*) //' "/proc/$c/stat" 2>/dev/null | awk '{ print $12 + $13 }'
            done
        done
    } | awk '{ s += $1 } END { print s + 0 }'
}

other_cpu_start() {
    OTHER_CPU_MARK="$(machine_jiffies) $(own_jiffies)"
}

other_cpu_end() {
    local now
    now="$(machine_jiffies) $(own_jiffies)"
    awk -v a="$OTHER_CPU_MARK" -v b="$now" 'BEGIN {
        split(a, x); split(b, y)
        total = y[2] - x[2]; other = (y[1] - x[1]) - (y[3] - x[3])
        if (other < 0) other = 0
        printf "%d", (total > 0 ? 100 * other / total + 0.5 : 0)
    }'
}

# "# <cores> cores (<cpu>), <os>; <httpd>; PostgreSQL <version> (fsync on)" and any
# further words given (client versions).
machine_line() {
    printf '# %s cores (%s), %s; %s; PostgreSQL %s (fsync on)%s\n' "$(nproc)" \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
        "$(. /etc/os-release && echo "$PRETTY_NAME")" \
        "$("$HTTPD" -v 2>/dev/null | sed -n 's/^Server version: //p')" \
        "$("$PG_BIN/postgres" -V | awk '{print $3}')" "${1:+; $1}"
}

# verdict VALUE OP TARGET WORDING: PASS when "VALUE OP TARGET" holds (OP is >= or
# <=), else WORDING.
verdict() {
    if awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { exit !(op == ">=" ? v >= t : v <= t) }'; then
        echo PASS
    else
        echo "$4"
    fi
}
