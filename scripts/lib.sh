# Helpers shared by scripts/serve, scripts/check and bench/*: packages, build,
# throwaway PostgreSQL clusters, ports and users. Sourced, never run.

PUSH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

push_say() { printf '%s\n' "$*" >&2; }
push_die() { push_say "error: $*"; exit 1; }

# Debian packages each task needs.
PUSH_PKGS_BUILD="gcc make autoconf automake libtool pkg-config apache2-dev libjson-c-dev libcurl4-openssl-dev libpq-dev libssl-dev"
PUSH_PKGS_RUN="apache2 libaprutil1-dbd-pgsql postgresql curl openssl"
PUSH_PKGS_TEST="libapache2-mod-perl2 libwww-perl apache2-utils clang libclang-rt-14-dev nodejs nghttp2-client libjson-validator-perl"
PUSH_PKGS_MOCK="nodejs"
PUSH_PKGS_BENCH="wrk postgresql-contrib nghttp2-client nodejs"

# push_deps build run test ... : installs what is missing when root, else names it and stops.
# Every package is named on a line of its own before apt-get installs it (the ones asked for
# and those apt-get brings in for them). apt-get starts no service (policy-rc.d), and the
# system's Apache keeps the modules it had enabled: libapache2-mod-perl2's maintainer script
# enables mod_perl, which is disabled again (Apache::Test's httpd loads what the suite needs
# itself, and not mod_perl: t/TEST).
push_deps() {
    local want="" missing="" p group all rc=0 mods_before had_apache=""
    for group in "$@"; do
        case $group in
            build) want="$want $PUSH_PKGS_BUILD" ;;
            run) want="$want $PUSH_PKGS_RUN" ;;
            test) want="$want $PUSH_PKGS_TEST" ;;
            bench) want="$want $PUSH_PKGS_BENCH" ;;
            mock) want="$want $PUSH_PKGS_MOCK" ;;
        esac
    done
    for p in $want; do
        case " $missing " in *" $p "*) continue ;; esac
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        push_die "missing Debian packages:$missing — install them (sudo apt-get install$missing) or run this as root"
    fi
    export DEBIAN_FRONTEND=noninteractive
    # what apt-get will install: the packages asked for and their dependencies (a dry run;
    # the package lists are fetched first when it cannot find them)
    all=$(push_apt_plan $missing) || { apt-get update -qq >/dev/null 2>&1; all=$(push_apt_plan $missing); } ||
        push_die "apt-get cannot install:$missing"
    for p in $all; do
        case " $missing " in
            *" $p "*) push_say "installing Debian package $p" ;;
            *) push_say "installing Debian package $p (a dependency)" ;;
        esac
    done
    dpkg-query -W -f='${Status}' apache2 2>/dev/null | grep -q 'install ok installed' && had_apache=1
    mods_before=" $(push_apache_mods | tr '\n' ' ') "
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 $missing >/dev/null || rc=$?
    rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || push_die "apt-get could not install:$missing"
    # modules a maintainer script enabled: all of them when Apache was there before, else
    # mod_perl (the ones apache2 enables when it is installed are its own defaults)
    for p in $(push_apache_mods); do
        case $mods_before in *" $p "*) continue ;; esac
        [ -n "$had_apache" ] || [ "$p" = perl ] || continue
        a2dismod -q "$p" >/dev/null && push_say "disabled module $p again in the system's Apache (a package enabled it)"
    done
}

# The modules enabled in Debian's Apache (a2enmod), one a line; nothing without Apache.
push_apache_mods() {
    local f
    for f in /etc/apache2/mods-enabled/*.load; do
        [ -e "$f" ] && basename "$f" .load
    done
    return 0
}

# push_apt_plan PACKAGE... — the packages "apt-get install" would install, one a line.
push_apt_plan() {
    local plan
    plan=$(apt-get install -s -qq "$@" 2>/dev/null) || return 1
    printf '%s\n' "$plan" | awk '$1 == "Inst" { print $2 }'
}

# Builds the module and pushctl in the source tree (configure once, make always).
push_build() {
    (
        cd "$PUSH_TOP" || exit 1
        [ -x configure ] || ./autogen.sh >/dev/null 2>&1 || push_die "autoreconf failed"
        [ -f Makefile ] || ./configure -q || push_die "configure failed"
        make -s -j2 >/dev/null || make -j1 || push_die "build failed"
    ) || exit 1
    PUSH_MODULE_SO="$PUSH_TOP/.libs/mod_push.so"
    PUSHCTL="$PUSH_TOP/pushctl"
    export PUSH_SQL_DIR="$PUSH_TOP/sql"
}

# A TCP port nobody listens on now.
push_free_port() {
    perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0, ReuseAddr => 1) or die; print $s->sockport, "\n"'
}

# push_port_busy PORT: true when something listens on PORT of 127.0.0.1 (or of every
# address), i.e. when httpd could not bind 127.0.0.1:PORT.
push_port_busy() {
    ! perl -MIO::Socket::INET -e 'IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], ReuseAddr => 1) or exit 1' "$1"
}

# push_sh_quote VALUE: VALUE single-quoted for sh and bash.
push_sh_quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# PostgreSQL and Apache::Test refuse root: as root, they run as nobody.
push_unpriv_user() {
    if [ "$(id -u)" -eq 0 ]; then echo nobody; else id -un; fi
}
push_as_unpriv() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

push_pg_bindir() {
    local d
    for d in "$(pg_config --bindir 2>/dev/null)" /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
    done
    push_die "PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql"
}

# A directory the unprivileged user can own: wanted if it can reach it, else under /tmp.
push_unpriv_dir() {
    local wanted=$1 d
    mkdir -p "$wanted"
    if [ "$(id -u)" -ne 0 ] || runuser -u nobody -- test -w "$wanted" -a -x "$wanted" 2>/dev/null ||
        { chown nobody "$wanted" 2>/dev/null && runuser -u nobody -- test -w "$wanted" 2>/dev/null; }; then
        echo "$wanted"
        return
    fi
    d=$(mktemp -d /tmp/mod_push.XXXXXX)
    chmod 755 "$d"
    chown nobody "$d"
    echo "$d"
}

# push_pg_start DATADIR PORT [fast] — initdb (once) and start a cluster on 127.0.0.1:PORT
# with the superuser "push" and a database "push". "fast" turns fsync off (tests only).
push_pg_start() {
    local data=$1 port=$2 mode=${3:-} bin opts
    bin=$(push_pg_bindir)
    if [ ! -f "$data/PG_VERSION" ]; then
        mkdir -p "$data"
        [ "$(id -u)" -eq 0 ] && chown nobody "$data"
        chmod 700 "$data"
        push_as_unpriv "$bin/initdb" -D "$data" -U push -A trust -E UTF8 --no-locale >"$data.initdb.log" 2>&1 ||
            { cat "$data.initdb.log" >&2; push_die "initdb failed"; }
    fi
    if push_as_unpriv "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        push_die "a PostgreSQL server already runs on $data (another scripts/serve?); stop it first"
    fi
    opts="-p $port -c listen_addresses=127.0.0.1 -k $data -c max_connections=200"
    [ "$mode" = fast ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    # PUSH_PG_OPTS: more server options, e.g. to profile a benchmark with
    # "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    opts="$opts ${PUSH_PG_OPTS:-}"
    push_as_unpriv "$bin/pg_ctl" -D "$data" -o "$opts" -l "$data/server.log" -w -t 60 start >/dev/null ||
        { tail -20 "$data/server.log" >&2; push_die "PostgreSQL did not start"; }
    push_as_unpriv "$bin/psql" -h 127.0.0.1 -p "$port" -U push -d postgres -qAtc \
        "SELECT 1 FROM pg_database WHERE datname = 'push'" | grep -q 1 ||
        push_as_unpriv "$bin/createdb" -h 127.0.0.1 -p "$port" -U push push
}

push_pg_stop() {
    local data=$1 bin
    [ -f "$data/postmaster.pid" ] || return 0
    bin=$(push_pg_bindir)
    push_as_unpriv "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# Writes FILE from TEMPLATE, replacing @NAME@ with the value of shell variable NAME.
push_render() {
    local template=$1 out=$2 line
    perl -pe 's/\@([A-Z_]+)\@/exists $ENV{$1} ? $ENV{$1} : die "unknown template variable $1\n"/ge' \
        "$template" >"$out"
}

# push_mock_keys DIR — throwaway provider credentials and a TLS certificate for the mock
# providers: apns.p8 (+ .pub), fcm.key (+ .pub, and fcm-account.json: a service account
# using it), tls.crt/tls.key for 127.0.0.1. Made once per DIR.
push_mock_keys() {
    local dir=$1
    mkdir -p "$dir"
    [ -f "$dir/fcm-account.json" ] && return 0
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/apns.p8" 2>/dev/null &&
        openssl pkey -in "$dir/apns.p8" -pubout -out "$dir/apns.pub" &&
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/fcm.key" 2>/dev/null &&
        openssl pkey -in "$dir/fcm.key" -pubout -out "$dir/fcm.pub" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
            -keyout "$dir/tls.key" -out "$dir/tls.crt" -subj /CN=127.0.0.1 \
            -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null ||
        push_die "openssl could not make the mock providers' keys"
    perl -MJSON::PP -e 'local $/; open my $f, "<", $ARGV[0] or die; my $k = <$f>;
        print JSON::PP->new->canonical->encode({type => "service_account", project_id => "mock-project",
            private_key_id => "mock", private_key => $k, client_email => "sender\@mock-project.iam.gserviceaccount.com",
            token_uri => "https://oauth2.googleapis.com/token"})' "$dir/fcm.key" >"$dir/fcm-account.json"
    chmod 644 "$dir"/*
}

# push_mock_start KEYDIR PORTSFILE LOG [extra options] — starts the mock providers
# (t/mock/providers.js) in the background and waits for their ports file. Sets MOCK_PID.
push_mock_start() {
    local keys=$1 ports=$2 log=$3 i
    shift 3
    rm -f "$ports"
    push_as_unpriv node "${PUSH_MOCK_JS:-$PUSH_TOP/t/mock/providers.js}" --ports-file "$ports" \
        --tls-cert "$keys/tls.crt" --tls-key "$keys/tls.key" --apns-key-pub "$keys/apns.pub" \
        --apns-key-id MOCKKEY001 --apns-team-id MOCKTEAM01 --fcm-key-pub "$keys/fcm.pub" "$@" \
        >"$log" 2>&1 &
    MOCK_PID=$!
    for i in $(seq 1 100); do
        [ -s "$ports" ] && return 0
        kill -0 "$MOCK_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$log" >&2
    push_die "the mock providers did not start"
}

# push_mock_stop PORTSFILE — stops the mock providers (runuser does not pass signals on,
# so the node process is signalled by the pid it wrote).
push_mock_stop() {
    local pid
    pid=$(push_mock_port "$1" pid 2>/dev/null) || true
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; }
    [ -n "${MOCK_PID:-}" ] && { kill "$MOCK_PID" 2>/dev/null || true; }
    return 0
}

# push_mock_port PORTSFILE NAME — one port of the mock providers.
push_mock_port() {
    perl -MJSON::PP -e 'local $/; open my $f, "<", $ARGV[0] or die; my $p = decode_json(<$f>); print $p->{$ARGV[1]} // ""' "$1" "$2"
}
