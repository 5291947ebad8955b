#!/usr/bin/env bash
# `make demo`: two peers (a laptop and a desktop) syncing through a shared folder in a temporary
# directory, end to end, with real output.
set -euo pipefail
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
shared="$work/shared-folder"
mkdir -p "$shared"
unset CONTEXT_PROJECT XDG_DATA_HOME CONTEXT_NOW CONTEXT_HOST
# The demo shows each step by hand; in daily use a write syncs itself in the background (the
# last section shows it).
export CONTEXT_AUTO_SYNC=0

# Each machine is a home; the shared folder stands for a Syncthing or Dropbox folder.
on() {
    local machine=$1
    shift
    printf '\n[%s]$ context %s\n' "$machine" "$*"
    CONTEXT_HOME="$work/$machine" CONTEXT_HOST="$machine" "$bin" "$@"
}
on_with_stdin() {
    local machine=$1 text=$2
    shift 2
    printf "\n[%s]$ echo '%s' | context %s\n" "$machine" "$text" "$*"
    printf '%s\n' "$text" | CONTEXT_HOME="$work/$machine" CONTEXT_HOST="$machine" "$bin" "$@"
}

echo "# two homes and a shared folder in $work"
on laptop sync remote "$shared"
on desktop sync remote "$shared"

echo; echo "# write on the laptop, push"
on_with_stdin laptop 'Litestream ships WAL segments; we ship changesets.' put research/background-sync
on_with_stdin laptop 'Q1: background sync.' put plan/q1 --project plans
on laptop sync push

echo; echo "# pull on the desktop"
on desktop sync pull
on desktop get research/background-sync
on desktop ls --project plans

echo; echo "# an edit back from the desktop: a fast-forward, no --force needed"
on_with_stdin desktop 'Q1: background sync, then benchmarks.' put plan/q1 --project plans
on desktop sync push
on laptop sync pull
on laptop get plan/q1 --project plans

echo; echo "# both edit the same note before syncing: a conflict"
on_with_stdin laptop 'Laptop: changesets are zstd MessagePack.' put research/background-sync
on_with_stdin desktop 'Desktop: changesets are checksummed.' put research/background-sync
on laptop sync push
on desktop sync push
printf '\n[laptop]$ context sync pull   # refused: the desktop edit would replace an unseen local edit\n'
CONTEXT_HOME="$work/laptop" CONTEXT_HOST=laptop "$bin" sync pull || echo "(exit $?)"
on laptop sync pull --force
on desktop sync pull
on laptop get research/background-sync
on desktop get research/background-sync
on laptop history research/background-sync

echo; echo "# the laptop's edit lost; both list the conflict until someone settles it"
on laptop conflicts
on laptop diff research/background-sync mine theirs
on laptop resolve research/background-sync --keep mine
on laptop sync push
on desktop sync pull
on desktop get research/background-sync
on desktop conflicts

echo; echo "# both edit different lines of one plan: --merge merges them"
printf '\n[laptop]$ context put plan/q2 --project plans   # a four-line plan\n'
printf 'Q2\n- ship sync\n- write the docs\n- run the benchmarks\n' \
    | CONTEXT_HOME="$work/laptop" CONTEXT_HOST=laptop "$bin" put plan/q2 --project plans
on laptop sync push
on desktop sync pull
printf '\n[laptop]$ context put plan/q2 --project plans   # edits the second line\n'
printf 'Q2\n- ship sync over S3 and SSH\n- write the docs\n- run the benchmarks\n' \
    | CONTEXT_HOME="$work/laptop" CONTEXT_HOST=laptop "$bin" put plan/q2 --project plans
printf '\n[desktop]$ context put plan/q2 --project plans   # edits the last line\n'
printf 'Q2\n- ship sync\n- write the docs\n- run the benchmarks at 2M versions\n' \
    | CONTEXT_HOME="$work/desktop" CONTEXT_HOST=desktop "$bin" put plan/q2 --project plans
on laptop sync push
on desktop sync push
on laptop sync pull --merge
on laptop get plan/q2 --project plans
on laptop sync push
on desktop sync pull
on desktop get plan/q2 --project plans

echo; echo "# housekeeping: prune what both have applied (a snapshot stands for it)"
on desktop sync push
on laptop sync pull
on laptop sync prune --dry-run
on laptop sync prune

echo; echo "# a new machine joins after the prune: it starts from the snapshot"
on server sync pull --remote "$shared"
on server history research/background-sync
on server sync verify --remote "$shared"

echo; echo "# sync after writes: a put on the laptop is pushed with no sync typed there"
printf "\n[laptop]$ echo 'Written on the laptop, pushed by itself.' | context put notes/auto\n"
echo 'Written on the laptop, pushed by itself.' \
    | CONTEXT_AUTO_SYNC=1 CONTEXT_HOME="$work/laptop" CONTEXT_HOST=laptop "$bin" put notes/auto
for _ in $(seq 1 50); do  # (the background sync takes a moment)
    CONTEXT_HOME="$work/laptop" "$bin" sync status --json 2>/dev/null | grep -q '"ahead": 0' && break
    sleep 0.2
done
on desktop sync pull
on desktop get notes/auto
on laptop sync status --check && echo "(healthy: --check said nothing and exited 0)"

echo; echo "# where each stands"
on laptop sync status
on laptop sync status --json

echo; echo "# what is in the shared folder"
(cd "$shared" && find . -type f | sort)
first=$(cd "$shared" && find . -name '*.cset' | sort | head -1)
on laptop sync inspect "$shared/${first#./}"
