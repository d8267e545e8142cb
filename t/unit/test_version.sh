#!/bin/sh
# The version is written in one place, AC_INIT in configure.ac. pushctl --version (built
# from it, like the module) and debian/changelog's upstream version must say the same.
# Run by make check (TAP lines, counted by scripts/check).
top=${srcdir:-.}
n=0
failed=0
check() {   # check NAME GOT WANT
    n=$((n + 1))
    if [ "$2" = "$3" ] && [ -n "$2" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1: got '$2', want '$3'"
        failed=1
    fi
}
ac=$(sed -n 's/^AC_INIT(\[mod_push\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
case $ac in
    [0-9]*.[0-9]*.[0-9]*) check "configure.ac has a version (AC_INIT)" "$ac" "$ac" ;;
    *) check "configure.ac has a version (AC_INIT)" "$ac" "N.N.N" ;;
esac
ctl=$(./pushctl --version)
check "pushctl --version says configure.ac's version" "$ctl" \
    "pushctl (mod_push) $ac, schema version $(sed -n 's/^#define PUSH_SCHEMA_VERSION \([0-9]*\)/\1/p' "$top/mod_push/core/schema.h")"
deb=$(sed -n '1s/^libapache2-mod-push (\([^)]*\)).*/\1/p' "$top/debian/changelog")
check "debian/changelog's latest entry is configure.ac's version" "${deb%-*}" "$ac"
echo "1..$n"
exit $failed
