#!/usr/bin/env bash
# `make install`: scripts/install.sh BIN ROOT puts the binary, the man pages and the completions
# under ROOT (bin/, share/man/man1/, and where bash-completion, zsh and fish look).
# `scripts/install.sh --check ROOT` checks that layout (what CI runs after `make install`).
set -euo pipefail

layout=(
    bin/context
    share/man/man1/context.1
    share/man/man1/context-sync-pull.1
    share/bash-completion/completions/context
    share/zsh/site-functions/_context
    share/fish/vendor_completions.d/context.fish
)

if [ "${1:-}" = "--check" ]; then
    root="$2"
    for f in "${layout[@]}"; do
        if [ ! -s "$root/$f" ]; then
            echo "install check: $root/$f is missing or empty" >&2
            exit 1
        fi
    done
    [ -x "$root/bin/context" ] || { echo "install check: $root/bin/context is not executable" >&2; exit 1; }
    "$root/bin/context" --version >/dev/null
    grep -q "_context_keys" "$root/share/bash-completion/completions/context"
    echo "install check: $root holds ${#layout[@]} expected files ($(ls "$root/share/man/man1" | wc -l) man pages)"
    exit 0
fi

bin="$1"
root="$2"
[ -x "$bin" ] || { echo "install: no binary at $bin (make build first)" >&2; exit 1; }
install -d "$root/bin" "$root/share/man/man1" "$root/share/bash-completion/completions" \
    "$root/share/zsh/site-functions" "$root/share/fish/vendor_completions.d"
install -m 755 "$bin" "$root/bin/context"
pages="$(mktemp -d)"
trap 'rm -rf "$pages"' EXIT
"$bin" __man "$pages" >/dev/null
install -m 644 "$pages"/*.1 "$root/share/man/man1/"
"$bin" completions bash >"$root/share/bash-completion/completions/context"
"$bin" completions zsh >"$root/share/zsh/site-functions/_context"
"$bin" completions fish >"$root/share/fish/vendor_completions.d/context.fish"
echo "installed context into $root (bin, man pages, bash/zsh/fish completions)"
