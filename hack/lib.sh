# Shared helpers for hack/* scripts. Source it; it sets ROOT, CACHE, BIN and
# loads hack/versions.env.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${P4_CACHE:-$ROOT/.cache}
BIN=$CACHE/bin
# shellcheck source=versions.env
. "$ROOT/hack/versions.env"
export PATH="$BIN:/usr/local/go/bin:/usr/sbin:/sbin:$PATH"
# Go's module proxy only; keep Go's own caches (they survive between runs).
export GOFLAGS=${GOFLAGS:-} GOTOOLCHAIN=${GOTOOLCHAIN:-local}

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# phase NAME CMD...: run CMD and print how long the phase took.
# CMD runs where `set -e` does not hold (bash ignores it under `||`), so a
# function given here must return non-zero on failure by itself.
phase() {
    local name=$1 start end rc=0
    shift
    start=$(date +%s)
    "$@" || rc=$?
    end=$(date +%s)
    printf '[phase] %-28s %4ss%s\n' "$name" "$((end - start))" "$([ $rc -eq 0 ] || echo " (failed: $rc)")" >&2
    return $rc
}

# up_to_date NAME STAMP: true when $BIN/NAME was built from exactly STAMP.
up_to_date() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.stamp" 2>/dev/null)" = "$2" ]; }
mark_built() { printf '%s' "$2" > "$BIN/.$1.stamp"; }
# tree_stamp DIR: a hash of a tools module's sources (go.mod, go.sum, *.go;
# a module that only names a `tool` has no .go file).
tree_stamp() {
    local f
    {
        cat "$1"/go.mod "$1"/go.sum
        for f in "$1"/*.go; do [ ! -e "$f" ] || cat "$f"; done
    } | sha256sum | cut -c1-16
}

# free_port VAR: set VAR to a TCP port on 127.0.0.1 that nobody listens on now
# and that this run has not handed out yet (callers record the ports they use),
# below the kernel's ephemeral range: a port in it can be taken by any
# process's outgoing connection before the server meant for it binds it.
P4_PORTS_TAKEN=" "
free_port() {
    local p low
    read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
    [ "$low" -gt 11000 ] 2>/dev/null || low=32768
    while :; do
        p=$((10000 + RANDOM % (low - 10000)))
        case "$P4_PORTS_TAKEN" in *" $p "*) continue ;; esac
        if [ -z "$(ss -Htln "sport = :$p")" ]; then
            P4_PORTS_TAKEN="$P4_PORTS_TAKEN$p "
            printf -v "$1" '%s' "$p"
            return 0
        fi
    done
}

# running PID: the process exists and has not exited (an exited child of
# ours waits as a zombie until init reaps it, which can take seconds here).
running() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# stop_pid PID: SIGTERM, up to 10 s to exit, then SIGKILL.
stop_pid() {
    local i
    kill -TERM "$1" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        running "$1" || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
}

# wait_for DESC TIMEOUT_SECONDS CMD...: poll CMD until it succeeds or the deadline passes.
wait_for() {
    local desc=$1 timeout=$2 deadline
    shift 2
    deadline=$(($(date +%s) + timeout))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "timed out after ${timeout}s waiting for $desc"
            return 1
        fi
        sleep 0.2
    done
}

# bring_up NAME: bring hack/NAME (cluster, registry, charts) up, unless it is
# up already; take_down_started (an EXIT trap) takes down again only what
# bring_up started, also on failure, and keeps the exit status.
P4_STARTED=()
bring_up() {
    local name=$1
    if "$ROOT/hack/$name" status > /dev/null 2>&1; then
        log "$name: already up, kept up afterwards"
        return 0
    fi
    phase "$name up" "$ROOT/hack/$name" up || return 1
    P4_STARTED=("$name" "${P4_STARTED[@]}")
}
take_down_started() {
    local rc=$? s
    for s in "${P4_STARTED[@]}"; do "$ROOT/hack/$s" down || rc=1; done
    exit $rc
}
