#!/usr/bin/env bash
# What `make test` needs besides the Rust toolchain: the real servers the tests start on
# loopback. moto comes from PyPI (pip --user when not root); sshd, Syncthing, curl, cron and
# strace from Debian's packages, installed here as root, else named for `sudo apt-get install`.
set -euo pipefail

if ! python3 -c 'import moto.server' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        python3 -m pip install --quiet 'moto[server]'
    else
        python3 -m pip install --quiet --user 'moto[server]'
    fi
fi

missing=""
[ -x /usr/sbin/sshd ] || missing="$missing openssh-server openssh-client"
command -v syncthing >/dev/null 2>&1 || missing="$missing syncthing"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v crontab >/dev/null 2>&1 || missing="$missing cron"
command -v strace >/dev/null 2>&1 || missing="$missing strace"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq $missing
    else
        echo "make test: the tests run against real servers this machine lacks; as root:" >&2
        echo "  sudo apt-get install$missing" >&2
        exit 1
    fi
fi
