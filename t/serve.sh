#!/usr/bin/env bash
# scripts/serve as a new user meets it, run by scripts/check (PUSH_CHECK_TESTS="t/serve.sh"):
# --help, a busy port, a readiness answer that is not mod_push's, a real run (the env file
# in sh, Navixy's ?hash= kept out of the access log, slow clients cut off by mod_reqtimeout),
# Ctrl-C, and nothing left behind. The run directory is mode 0700: as root, nobody cannot
# reach it (a clone in /root), as any other user it is that user's own.
# Prints "ok N - ..." / "not ok N - ..." and exits non-zero when one failed.
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
SERVE="$PUSH_TOP/scripts/serve"

n=0
failures=0
ok() {   # ok CONDITION-STATUS NAME [DIAGNOSTIC]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
        failures=$((failures + 1))
    fi
}

RUN=$(mktemp -d "${TMPDIR:-/tmp}/mod_push-serve-test.XXXXXX")
chmod 700 "$RUN"
SERVE_PID=""
LISTENER_PID=""
EX=""
cleanup() {
    if [ -n "$EX" ]; then
        [ -f "$EX/httpd.pid" ] && kill "$(cat "$EX/httpd.pid")" 2>/dev/null
        rm -rf "$EX"
    fi
    [ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    [ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null
    rm -rf "$RUN"
}
trap cleanup EXIT

# the directory a run under root keeps its files in (it says so), which must be gone after
scratch_of() { sed -n 's/.* go to \(.*\) (removed when this stops)$/\1/p' "$1"; }

# serve_bg LOG ENV...: scripts/serve in the background, SIGINT at its default (a background
# job of a script would ignore it, and Ctrl-C must reach it as it does in a terminal)
serve_bg() {
    local log=$1
    shift
    env "$@" perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' "$SERVE" >"$log" 2>&1 &
    SERVE_PID=$!
}

# --- --help ------------------------------------------------------------------------------
out=$(PUSH_RUN_DIR="$RUN/help" "$SERVE" --help 2>&1)
rc=$?
ok "$rc" "--help exits 0" "$out"
grep -q '^usage: scripts/serve' <<<"$out" && grep -q PUSH_PORT <<<"$out"
ok $? "--help prints the usage and the variables" "$out"
[ ! -e "$RUN/help" ]
ok $? "--help starts nothing (no run directory made)"
PUSH_RUN_DIR="$RUN/help" "$SERVE" --bogus >/dev/null 2>&1
[ $? -eq 2 ] && [ ! -e "$RUN/help" ]
ok $? "an unknown argument exits 2 and starts nothing"

# --- a busy port: an error naming it, and the other server is never spoken to --------------
# The listener is up (alive, and the port refuses a bind) before scripts/serve looks; a
# port taken between push_free_port and the listener's bind is replaced by another. Should
# scripts/serve start anyway, timeout ends it: a failed test, never a hung one.
LISTENER_PID=
for _ in 1 2 3 4 5; do
    BUSY=$(push_free_port)
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 5, LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], ReuseAddr => 1) or die;
        open my $log, ">", $ARGV[1] or die; $log->autoflush(1);
        while (my $c = $s->accept) { print $log "connection\n"; close $c }' "$BUSY" "$RUN/busy.connections" &
    LISTENER_PID=$!
    for _ in $(seq 1 50); do
        kill -0 "$LISTENER_PID" 2>/dev/null || break
        push_port_busy "$BUSY" && break
        sleep 0.1
    done
    kill -0 "$LISTENER_PID" 2>/dev/null && push_port_busy "$BUSY" && break
    kill "$LISTENER_PID" 2>/dev/null
    wait "$LISTENER_PID" 2>/dev/null
    LISTENER_PID=
done
if [ -n "$LISTENER_PID" ]; then
    out=$(PUSH_PORT=$BUSY PUSH_RUN_DIR="$RUN/busy" timeout 120 "$SERVE" 2>&1)
    rc=$?
else
    out="no listener could be started on a free port for this test"
    rc=0
fi
[ "$rc" -ne 0 ] && grep -q "port $BUSY on 127.0.0.1 is in use" <<<"$out"
ok $? "a busy port is an error naming it" "$out"
[ ! -s "$RUN/busy.connections" ]
ok $? "the server on the busy port got no request"
kill "$LISTENER_PID" 2>/dev/null
wait "$LISTENER_PID" 2>/dev/null
LISTENER_PID=""

# --- an answer that is not mod_push's fails readiness ----------------------------------------
printf '<Location /mfp>\n    Require all denied\n</Location>\n' >"$RUN/deny.conf"
out=$(PUSH_PORT=$(push_free_port) PUSH_RUN_DIR="$RUN/deny" PUSH_EXTRA_CONF="$RUN/deny.conf" "$SERVE" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && grep -q 'answered 403 (text/html.*) to POST /mfp/api/az/v1/token, not mod_push' <<<"$out"
ok $? "a 403 page fails readiness with a message saying so" "$out"
printf '%s\n' "$out" >"$RUN/deny.log"
scratch=$(scratch_of "$RUN/deny.log")
[ -z "$scratch" ] || [ ! -e "$scratch" ]
ok $? "the failed run left nothing in ${TMPDIR:-/tmp} (${scratch:-it made no directory there})"

# --- a real run ------------------------------------------------------------------------------
PORT=$(push_free_port)
BASE="http://127.0.0.1:$PORT"
serve_bg "$RUN/serve.log" PUSH_PORT="$PORT" PUSH_RUN_DIR="$RUN/run"
ready=1
for _ in $(seq 1 1800); do
    grep -q '^mod_push ready on' "$RUN/serve.log" && { ready=0; break; }
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.1
done
ok "$ready" "scripts/serve gets ready" "$(tail -20 "$RUN/serve.log")"
if [ "$ready" -ne 0 ]; then
    echo "1..$n"
    exit 1
fi
scratch=$(scratch_of "$RUN/serve.log")
if [ "$(id -u)" -eq 0 ]; then
    [ -n "$scratch" ] && [ -d "$scratch" ]
    ok $? "as root, with a run directory nobody cannot reach, the run's files are elsewhere ($scratch)"
fi

# slow clients, started first: they take 20 s to be cut off
trickle() {   # trickle header|body: seconds until the server closes, or "open"
    perl -MIO::Socket::INET -MTime::HiRes=time -e '
        my ($port, $what) = @ARGV;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port) or die "connect: $!";
        $SIG{PIPE} = "IGNORE";
        my $t0 = time;
        my $head = "POST /user/session/push_token/bind HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        if ($what eq "body") { syswrite $s, "${head}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{" }
        else { syswrite $s, "POST /user/session/push_token/bind HTTP/1.1\r\n" }
        $s->blocking(0);
        while (time - $t0 < 60) {
            my $buf;
            my $r = sysread $s, $buf, 4096;
            last if defined $r && $r == 0;
            last if !defined $r && !$!{EAGAIN} && !$!{EWOULDBLOCK};
            last unless defined syswrite $s, ($what eq "body" ? " " : "X");
            select undef, undef, undef, 1;
        }
        printf "%s\n", time - $t0 < 60 ? int(time - $t0) : "open";' "$PORT" "$1"
}
trickle header >"$RUN/trickle.header" 2>&1 &
T_HEADER=$!
trickle body >"$RUN/trickle.body" 2>&1 &
T_BODY=$!

# the env file, in sh: pushctl on PATH, PUSH_PG and T set
out=$(sh -c ". '$RUN/run/env' && command -v pushctl && pushctl app list && printf 'T=%s\n' \"\$T\"" 2>&1)
rc=$?
[ "$rc" -eq 0 ] && grep -q '/bin/pushctl$' <<<"$out" && grep -q '^demo' <<<"$out" &&
    grep -qE '^T=[0-9a-f]{32}$' <<<"$out"
ok $? "\$PUSH_RUN_DIR/env is sourceable by sh and puts pushctl on PATH" "$out"
T=$(sh -c ". '$RUN/run/env' && printf %s \"\$T\"")

# Navixy with the session token in the query: answered, and kept out of the access log
out=$(curl -s "$BASE/user/session/push_token/bind?hash=$T&application=navixy_android_viewer&token=f4be7b9d04da2ce1af111b")
[ "$out" = '{"success":true}' ]
ok $? "Navixy bind with ?hash= succeeds" "$out"
out=$(curl -s "$BASE/user/session/push_token/delete?hash=$T")
[ "$out" = '{"success":true}' ]
ok $? "Navixy delete with ?hash= succeeds" "$out"
sleep 1
LOG="$RUN/run/httpd/access_log"
grep -q '"GET /user/session/push_token/delete HTTP/1.1" 200' "$LOG"
ok $? "the access log records the Navixy request, without its query string" "$(tail -3 "$LOG")"
! grep -q -e "$T" -e 'hash=' "$LOG"
ok $? "the session token is nowhere in the access log" "$(grep -e "$T" -e 'hash=' "$LOG")"

# a request still gets through while the slow clients hold their connections
out=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/imfpush/v1/health/status")
[ "$out" = 200 ]
ok $? "mod_push answers beside slow clients" "$out"
wait "$T_HEADER"
wait "$T_BODY"
h=$(cat "$RUN/trickle.header")
b=$(cat "$RUN/trickle.body")
case $h in '' | *[!0-9]*) false ;; *) [ "$h" -ge 15 ] && [ "$h" -le 45 ] ;; esac
ok $? "a client trickling its request headers is cut off after 20-40 s (mod_reqtimeout): ${h}s"
case $b in '' | *[!0-9]*) false ;; *) [ "$b" -ge 15 ] && [ "$b" -le 45 ] ;; esac
ok $? "a client trickling its request body is cut off after 20 s (mod_reqtimeout): ${b}s"
grep -q '" 408 ' "$LOG"
ok $? "the cut-off requests are logged as 408" "$(tail -3 "$LOG")"

# --- conf/mod_push.conf.example, on serve's database ------------------------------------------
# The annotated example as an administrator includes it: its own paths replaced by this
# machine's, its Navixy location's session table created. Its access log must not hold ?hash=.
EX=$(mktemp -d "${TMPDIR:-/tmp}/mod_push-serve-example.XXXXXX")
chmod 755 "$EX"
mkdir "$EX/htdocs"
PG=$(sh -c ". '$RUN/run/env' && printf %s \"\$PUSH_PG\"")
PSQL="$(push_pg_bindir)/psql"
"$PSQL" -X -q -d "$PG" -c "CREATE TABLE app_sessions (hash text PRIMARY KEY, user_id integer NOT NULL, expires timestamptz NOT NULL);
    INSERT INTO app_sessions VALUES ('5eb63bbe01eeed093cb22bb8f5acdc3e', 42, now() + interval '1 hour')" >/dev/null 2>&1
"$PUSH_TOP/pushctl" -d "$PG" app add tracker >/dev/null
cp "$RUN/run/push.key" "$EX/push.key"
EXPORT=$(push_free_port)
MODDIR=$(apxs -q LIBEXECDIR)
sed -e "s|modules/mod_push.so|$PUSH_TOP/.libs/mod_push.so|; s|modules/|$MODDIR/|" \
    -e "s|^DBDParams .*|DBDParams \"$PG\"|; s|/etc/apache2/push.key|$EX/push.key|; s|logs/access_log|$EX/access_log|" \
    -e "s|^PushSender On|PushSender Off|" "$PUSH_TOP/conf/mod_push.conf.example" >"$EX/example.conf"
{
    echo "ServerRoot \"$EX\""
    echo "DefaultRuntimeDir \"$EX\""
    echo "PidFile \"$EX/httpd.pid\""
    echo "Mutex file:$EX default"
    echo "ServerName 127.0.0.1"
    echo "Listen 127.0.0.1:$EXPORT"
    [ "$(id -u)" -eq 0 ] && printf 'User nobody\nGroup nogroup\n'
    echo "LoadModule mpm_event_module $MODDIR/mod_mpm_event.so"
    echo "LoadModule authz_core_module $MODDIR/mod_authz_core.so"
    echo "LoadModule authz_host_module $MODDIR/mod_authz_host.so"
    echo "ErrorLog \"$EX/error_log\""
    echo "DocumentRoot \"$EX/htdocs\""
    echo "Include \"$EX/example.conf\""
} >"$EX/httpd.conf"
HTTPD=$(command -v apache2 || echo /usr/sbin/apache2)
out=$("$HTTPD" -t -f "$EX/httpd.conf" 2>&1)
ok $? "conf/mod_push.conf.example passes apachectl -t (with this machine's paths)" "$out"
"$HTTPD" -f "$EX/httpd.conf" -k start >"$EX/start.log" 2>&1
out=""
for _ in $(seq 1 100); do
    out=$(curl -s "http://127.0.0.1:$EXPORT/user/session/push_token/delete?hash=5eb63bbe01eeed093cb22bb8f5acdc3e") && break
    sleep 0.1
done
[ "$out" = '{"success":true}' ]
ok $? "the example's Navixy location answers a ?hash= request" "$out $(cat "$EX/start.log"; tail -3 "$EX/error_log" 2>/dev/null)"
"$HTTPD" -f "$EX/httpd.conf" -k stop >/dev/null 2>&1
for _ in $(seq 1 50); do [ -f "$EX/httpd.pid" ] || break; sleep 0.1; done
grep -q '"GET /user/session/push_token/delete HTTP/1.1" 200' "$EX/access_log" &&
    ! grep -q -e 5eb63bbe01eeed093cb22bb8f5acdc3e -e 'hash=' "$EX/access_log"
ok $? "the example's access log has the request without its query string" "$(cat "$EX/access_log" 2>/dev/null)"
grep -q '^RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500' "$PUSH_TOP/conf/mod_push.conf.example" &&
    grep -q '^RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500' "$RUN/run/httpd.conf"
ok $? "the example configures mod_reqtimeout as scripts/serve's configuration does"
rm -rf "$EX"
EX=""

# --- Ctrl-C -----------------------------------------------------------------------------------
HTTPD_PIDFILE=$(sed -n 's/^PidFile "\(.*\)"$/\1/p' "$RUN/run/httpd.conf")
HTTPD_MAIN=$(cat "$HTTPD_PIDFILE" 2>/dev/null)
kill -INT "$SERVE_PID"
rc=0
wait "$SERVE_PID" || rc=$?
SERVE_PID=""
ok "$rc" "SIGINT: scripts/serve exits 0" "$(tail -5 "$RUN/serve.log")"
[ "$(tail -n 1 "$RUN/serve.log")" = stopped ]
ok $? "SIGINT: it says \"stopped\"" "$(tail -3 "$RUN/serve.log")"
! { [ -n "$HTTPD_MAIN" ] && kill -0 "$HTTPD_MAIN" 2>/dev/null; }
ok $? "httpd is gone (pid $HTTPD_MAIN)"
! curl -s -o /dev/null "$BASE/"
ok $? "nothing listens on the port any more"
[ -z "$scratch" ] || [ ! -e "$scratch" ]
ok $? "nothing is left in ${TMPDIR:-/tmp} (${scratch:-it made no directory there})"

echo "1..$n"
[ "$failures" -eq 0 ]
