#!/usr/bin/env bash
# `make demo`: the store end to end, with real output, in a temporary home.
set -euo pipefail
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CONTEXT_HOME="$work/laptop"
unset CONTEXT_PROJECT XDG_DATA_HOME

run() {
    printf '\n$ %s\n' "$*"
    "$@"
}
context() { "$bin" "$@"; }

echo "# a home in $CONTEXT_HOME"
printf "\n$ echo 'Litestream ships WAL segments.' | context put research/background-sync\n"
echo 'Litestream ships WAL segments.' | context put research/background-sync
first=$(context history research/background-sync --json | sed -n 's/.*"id": "\(.*\)".*/\1/p' | head -1)
printf 'Use changesets instead of WAL shipping.\n' > "$work/note.md"
run context put research/background-sync --file "$work/note.md"
run context get research/background-sync
run context put --project plans plan/q1 --ttl 7d --file "$work/note.md"
run context ls
run context ls --project plans --json
run context history research/background-sync
run context restore research/background-sync "$first"
run context get research/background-sync
run context rm research/background-sync
printf '\n$ context get research/background-sync   # deleted: exit 1\n'
context get research/background-sync || echo "(exit $?)"
run context ls --deleted
