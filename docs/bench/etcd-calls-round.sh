#!/bin/bash
# One run of "etcd throughput, round 7" in docs/benchmarks.md: a fresh etcd
# and a fresh node for BIN, then ukeygate bench (login SM2, 16 workers,
# SESSIONS sessions, default 1500). Prints the throughput, the load average
# before and after, the CPU per session of the node and of etcd (from
# /proc/PID/stat, utime+stime, the bench's set-up included) and, from
# etcd's /metrics, the gRPC calls by method, the raft proposals and the
# key reads inside etcd per session.
# Usage: etcd-calls-round.sh BIN LABEL [SESSIONS]
BIN=$1; LABEL=$2; N=${3:-1500}
D=$(mktemp -d /tmp/ecr.XXXX)
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
m() { curl -s http://127.0.0.1:$CP/metrics | python3 -c '
import sys,re
d={}
for l in sys.stdin:
  if l.startswith("#"): continue
  for pat,name in [(r"^grpc_server_handled_total\{.*grpc_method=\"(\w+)\"", None),(r"^(etcd_server_proposals_committed_total) ",None),(r"^(etcd_debugging_mvcc_range_total) ",None),(r"^(etcd_mvcc_range_total) ",None)]:
    mm=re.match(pat,l)
    if mm: d[mm.group(1)]=d.get(mm.group(1),0)+float(l.split()[-1])
print(" ".join("%s=%d"%(k,v) for k,v in sorted(d.items())))'; }
M0=$(m)
L0=$(cut -d" " -f1 /proc/loadavg); S0=$(awk "{print \$14+\$15}" /proc/$SP/stat); E0=$(awk "{print \$14+\$15}" /proc/$EP/stat)
OUT=$($BIN bench --server http://127.0.0.1:$HP --admin-token $UKEYGATE_ADMIN_TOKEN --kind login --alg SM2 --concurrency 16 --sessions $N --json $BENCHARGS 2>$D/bench.err || true)
L1=$(cut -d" " -f1 /proc/loadavg); S1=$(awk "{print \$14+\$15}" /proc/$SP/stat); E1=$(awk "{print \$14+\$15}" /proc/$EP/stat)
M1=$(m)
kill $SP; wait $SP 2>/dev/null || true; kill $EP; wait $EP 2>/dev/null || true
python3 - "$LABEL" "$N" "$L0" "$L1" "$((S1-S0))" "$((E1-E0))" "$M0" "$M1" "$OUT" <<'PY'
import sys,json,time
lab,n,l0,l1,s,e,m0,m1,out=sys.argv[1:]
n=int(n)
p=lambda m: dict((kv.split("=")[0],int(kv.split("=")[1])) for kv in m.split())
a,b=p(m0),p(m1)
try:
  r=json.loads(out); tp="%.1f/s ok %d fail %d"%(r["sessions_per_second"],r["completed"],r["failed"])
except Exception as ex: tp="bench failed"
per=" ".join("%s=%.2f"%(k.replace("etcd_server_proposals_committed_total","props").replace("etcd_debugging_mvcc_range_total","mvccrange"),(b.get(k,0)-a.get(k,0))/n) for k in sorted(b) if b.get(k,0)-a.get(k,0)>0)
print("%s %s load %s->%s %s gw %.2f ms etcd %.2f ms /session | %s"%(lab,time.strftime("%H:%M:%S",time.gmtime()),l0,l1,tp,int(s)*10/n,int(e)*10/n,per))
PY
rm -rf $D
