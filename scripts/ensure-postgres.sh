#!/bin/sh
# Make Debian's PostgreSQL server available to the tests (tests/api/service/postgres.py starts
# a throwaway one). Installs the package when we are root with apt-get; otherwise says in one
# line that the PostgreSQL tests will be skipped. Never fails the build.
for initdb in /usr/lib/postgresql/*/bin/initdb; do
    [ -x "$initdb" ] && exit 0
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's postgresql package for the PostgreSQL tests"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; then
        apt-get update -qq >/dev/null 2>&1
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1
    fi
    for initdb in /usr/lib/postgresql/*/bin/initdb; do
        [ -x "$initdb" ] && exit 0
    done
    echo "Could not install postgresql: the PostgreSQL tests will be skipped"
else
    echo "No PostgreSQL server (not root or no apt-get): the PostgreSQL tests will be skipped"
fi
exit 0
