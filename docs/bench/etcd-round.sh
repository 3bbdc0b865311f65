#!/bin/bash
# One round of the etcd throughput table in docs/benchmarks.md: a fresh etcd and a fresh
# node for BIN, then ukeygate bench (login SM2, 16 workers, 400 sessions). Usage: etcd-round.sh BIN LABEL
BIN=$1; LABEL=$2
D=$(mktemp -d /tmp/eb.XXXX)
read CP PP HP < <(python3 -c "import socket
ss=[socket.socket() for _ in range(3)]
[s.bind(('127.0.0.1',0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])")
etcd --data-dir $D/etcd --listen-client-urls http://127.0.0.1:$CP --advertise-client-urls http://127.0.0.1:$CP --listen-peer-urls http://127.0.0.1:$PP > $D/etcd.log 2>&1 &
EP=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:$CP/health >/dev/null && break; sleep 0.2; done
export UKEYGATE_DATA_DIR=$D/data UKEYGATE_STORAGE_BACKEND=etcd UKEYGATE_STORAGE_ETCD_ENDPOINTS=http://127.0.0.1:$CP UKEYGATE_STORAGE_ETCD_PREFIX=/b/ UKEYGATE_ADMIN_TOKEN=benchbenchbenchbench0123 UKEYGATE_LISTEN=127.0.0.1:$HP UKEYGATE_PUBLIC_URL=http://127.0.0.1:$HP UKEYGATE_LOG_LEVEL=warn UKEYGATE_RATE_LIMIT_ENABLED=false
$BIN init > /dev/null 2>&1
$BIN serve > $D/serve.log 2>&1 &
SP=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:$HP/readyz >/dev/null && break; sleep 0.2; done
L0=$(cut -d' ' -f1 /proc/loadavg)
OUT=$($BIN bench --server http://127.0.0.1:$HP --admin-token $UKEYGATE_ADMIN_TOKEN --kind login --alg SM2 --concurrency 16 --sessions 400 --json 2>/dev/null || true)
L1=$(cut -d' ' -f1 /proc/loadavg)
P=$(curl -s http://127.0.0.1:$CP/metrics | grep '^etcd_server_proposals_committed_total' | cut -d' ' -f2)
kill $SP; wait $SP 2>/dev/null || true; kill $EP; wait $EP 2>/dev/null || true
echo "$LABEL $(date +%H:%M:%S) load $L0->$L1 $(echo "$OUT" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("throughput %.1f/s completed %d failed %d" % (r["sessions_per_second"], r["completed"], r["failed"]))') proposals_total $P"
rm -rf $D
