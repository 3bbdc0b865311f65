#!/bin/bash
# One run of the login throughput tables of docs/benchmarks.md (round 9 on):
# a fresh node of BIN on bbolt, or on a fresh etcd, then `ukeygate bench`
# (login SM2, 16 workers, for DUR) and one line of figures: throughput,
# crypto limit and ratio, CPU ms per completed session of the node (and of
# etcd) read from /proc over the bench, raft proposals per session, the
# confirm and whole-session p50.
#
# usage: login-round.sh bolt|etcd BIN LABEL [DUR]
#   BENCH=...  the ukeygate binary whose bench runs (default BIN)
#   PROF=1     also take the node's CPU profile over the load and print
#              its categories (bench --cpuprofile-from)
#   PROFOUT=F  with PROF=1, also keep that profile in F (for go tool
#              pprof, or as a profile for a PGO build)
#   PHASES=1   also print every phase's p50/p90
#   CONC=N     workers (default 16, the issue's figure)
#   PROCS=N    the bench's --procs (default: the bench's own)
#   SELFPROF=F write the bench client's own CPU profile to F
#   KEEPLOG=F  copy the node's log to F (with GODEBUG=gctrace=1 in a
#              wrapper BIN: the collections)
# On bbolt the line also gives the node's durable commits per session, the
# transactions each commit carried, and the share of the run's wall-clock
# time the file's write path spent committing (the bench's server_load).
set -u
backend=$1; bin=$2; label=$3; dur=${4:-20s}
d=$(mktemp -d /tmp/login-round.XXXX)
read -r hp dp cp pp < <(python3 -c "import socket
ss=[socket.socket() for _ in range(4)]
[s.bind(('127.0.0.1',0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])")
export UKEYGATE_DATA_DIR=$d/data UKEYGATE_ADMIN_TOKEN=benchbenchbenchbench0123 \
  UKEYGATE_LISTEN=127.0.0.1:$hp UKEYGATE_PUBLIC_URL=http://127.0.0.1:$hp UKEYGATE_LOG_LEVEL=warn \
  UKEYGATE_RATE_LIMIT_ENABLED=false UKEYGATE_DEBUG_PPROF_LISTEN=127.0.0.1:$dp
ep=""
if [ "$backend" = etcd ]; then
  etcd --data-dir "$d/etcd" --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
    --listen-peer-urls "http://127.0.0.1:$pp" > "$d/etcd.log" 2>&1 &
  ep=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$cp/health" >/dev/null && break; sleep 0.2; done
  export UKEYGATE_STORAGE_BACKEND=etcd UKEYGATE_STORAGE_ETCD_ENDPOINTS=http://127.0.0.1:$cp UKEYGATE_STORAGE_ETCD_PREFIX=/b/
fi
"$bin" init > /dev/null 2>&1
"$bin" serve > "$d/serve.log" 2>&1 &
sp=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$hp/readyz" >/dev/null && break; sleep 0.2; done
cpu() { if [ -n "$1" ]; then awk '{print $14+$15}' "/proc/$1/stat"; else echo 0; fi; }
proposals() { if [ -n "$ep" ]; then curl -s "http://127.0.0.1:$cp/metrics" | awk '/^etcd_server_proposals_committed_total/ {print $2}'; else echo 0; fi; }
load=$(cut -d' ' -f1 /proc/loadavg)
p0=$(proposals); g0=$(cpu $sp); e0=$(cpu "$ep")
prof=""
[ -n "${PROF:-}" ] && prof="--cpuprofile-from http://127.0.0.1:$dp${PROFOUT:+ --cpuprofile-out $PROFOUT}"
# shellcheck disable=SC2086
"${BENCH:-$bin}" bench --server "http://127.0.0.1:$hp" --admin-token "$UKEYGATE_ADMIN_TOKEN" --kind login --alg SM2 \
  --concurrency ${CONC:-16} ${PROCS:+--procs $PROCS} --duration "$dur" --json $prof ${SELFPROF:+--self-cpuprofile $SELFPROF} > "$d/report.json" 2> "$d/bench.err"
g1=$(cpu $sp); e1=$(cpu "$ep"); p1=$(proposals)
kill $sp; wait $sp 2>/dev/null
[ -n "$ep" ] && { kill "$ep"; wait "$ep" 2>/dev/null; }
LABEL=$label LOAD=$load G=$((g1-g0)) E=$((e1-e0)) P=$(python3 -c "print(float('$p1')-float('$p0'))") python3 - "$d/report.json" <<'EOF'
import json, os, sys
r = json.load(open(sys.argv[1])); e = os.environ; n = r["completed"]
tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
ph = {p["name"]: p for p in r["phases"]}
c = r["crypto_limit"]
line = "%s load %s: %.1f sessions/s, limit %.0f/s (one core x CPUs %.0f/s), ratio %.3f, completed %d failed %d, node %.2f ms/session" % (
    e["LABEL"], e["LOAD"], r["sessions_per_second"], c["sessions_per_second"], c.get("one_core_scaled_per_second", 0),
    r["crypto_limit_ratio"], n, r["failed"], int(e["G"]) * tick_ms / n)
if float(e["P"]) > 0:
    line += ", etcd %.2f ms/session, %.2f proposals/session" % (int(e["E"]) * tick_ms / n, float(e["P"]) / n)
line += ", confirm p50 %.1f ms, session p50 %.1f ms" % (ph["confirm"]["p50_ms"], ph["total"]["p50_ms"])
sl = r.get("server_load") or {}
if sl.get("commits_per_session"):  # bbolt: the store's commits, as the bench read them from /metrics
    line += ", %.2f commits/session, %.2f transactions and %.1f pages/commit, commit busy %.0f %% (disk %.0f %%), %.2f ms/commit" % (
        sl["commits_per_session"], sl["transactions_per_commit"], sl["pages_per_commit"],
        100 * sl["commit_busy"], 100 * sl["commit_disk_busy"], sl["ms_per_commit"])
print(line)
if e.get("PHASES"):
    print("  phases p50/p90 ms: " + ", ".join("%s %.1f/%.1f" % (k, v["p50_ms"], v.get("p90_ms", 0)) for k, v in ph.items()))
for cat in r.get("cpu_profile", {}).get("categories", []):
    print("  %-10s %.3f ms/session (%.0f %%)" % (cat["category"], cat["ms_per_session"], 100 * cat["share"]))
EOF
[ -n "${KEEPLOG:-}" ] && cp "$d/serve.log" "$KEEPLOG"
rm -rf "$d"
