#!/bin/bash
# One run of the waiting-clients table in docs/benchmarks.md: a fresh bbolt
# server from BIN (logs at info, the default), then ukeygate bench
# --watchers N (19,500 unless given) over TRANSPORT (websocket|longpoll).
# Prints the bench's figures, the load average before and after, and the
# server's RssAnon/RssFile (/proc/PID/status; of RssFile, the bbolt
# file's mapping from /proc/PID/smaps) idle and after the clients left.
# SETTLE and WINDOW (defaults 15s and 30s) are the bench's --settle and
# --idle-window: the window should cover at least one long-poll wait (the
# server's http.long_poll_wait, 55s by default since round 7).
# LEFT (default: SETTLE) is the wait after the clients left.
# Usage: [SETTLE=120s WINDOW=60s LEFT=15s] watchers-round.sh BIN TRANSPORT LABEL [N]
BIN=$1; TRANSPORT=$2; LABEL=$3; N=${4:-19500}
# The server and the bench each hold one socket per client.
ulimit -n "$(ulimit -Hn)"
D=$(mktemp -d /tmp/wr.XXXX)
HP=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
export UKEYGATE_DATA_DIR=$D/data UKEYGATE_ADMIN_TOKEN=benchbenchbenchbench0123 UKEYGATE_LISTEN=127.0.0.1:$HP \
  UKEYGATE_PUBLIC_URL=http://127.0.0.1:$HP UKEYGATE_DEMO=false UKEYGATE_RATE_LIMIT_ENABLED=false
$BIN init > /dev/null 2>&1
$BIN serve > $D/serve.log 2>&1 &
SP=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:$HP/readyz >/dev/null && break; sleep 0.2; done
# RssAnon and RssFile, and the part of RssFile that is the bbolt file's
# mapping (the rest is mostly the binary's pages).
rss() {
  awk '/^RssAnon|^RssFile/ {printf "%s %d MiB ", $1, $2/1024}' /proc/$SP/status
  awk -v db="$D/data/ukeygate.db" '/^[0-9a-f]+-[0-9a-f]+ / {in_db = ($6 == db)} in_db && /^Rss:/ {kb += $2} END {printf "(db %d MiB) ", kb/1024}' /proc/$SP/smaps
}
IDLE=$(rss)
L0=$(cut -d' ' -f1-3 /proc/loadavg)
$BIN bench --server http://127.0.0.1:$HP --admin-token $UKEYGATE_ADMIN_TOKEN --json \
  --watchers "$N" --transport "$TRANSPORT" --settle "${SETTLE:-15s}" --idle-window "${WINDOW:-30s}" --left-settle "${LEFT:-0s}" --confirms 100 > $D/out.json 2> $D/bench.err
LEFT=$(rss)
L1=$(cut -d' ' -f1-3 /proc/loadavg)
kill $SP; wait $SP 2>/dev/null || true
python3 - "$D/out.json" "$LABEL" "$L0" "$L1" "$IDLE" "$LEFT" <<'EOF'
import json, sys
f, label, l0, l1, idle, left = sys.argv[1:]
try:
    r = json.load(open(f))
except Exception as e:
    print(label, "no report:", e); sys.exit(0)
k = 1024.0
def per(field):
    return (r["waiting"].get(field, 0) - r["idle"].get(field, 0)) / max(r["opened"], 1) / k
print("%s opened %d/%d fail %s | per waiter %.1f KiB (heap %.1f, stack %.1f) | goroutines %d->%d->%d | cpu %.1f %% | rss MiB %.0f->%.0f->%.0f (left %.2fx) | p50 %.0f p99 %.0f ms | load [%s]->[%s] | idle %s| left %s" % (
    label, r["opened"], r["watchers"], r.get("open_failures") or "-", r["rss_per_waiter_bytes"] / k,
    per("heap_inuse_bytes"), per("stack_inuse_bytes"),
    r["idle"]["goroutines"], r["waiting"]["goroutines"], r["left"]["goroutines"], 100 * r["idle_cpu_cores"],
    r["idle"]["rss_bytes"] / 2**20, r["waiting"]["rss_bytes"] / 2**20, r["left"]["rss_bytes"] / 2**20, r["left_rss_ratio"],
    r["confirm_to_event"].get("p50_ms", 0), r["confirm_to_event"].get("p99_ms", 0), l0, l1, idle, left))
EOF
rm -rf $D
