#!/bin/sh
# The rounds of docs/benchmarks.md "Where the CPU of a session goes".
# usage: profile-round.sh LABEL DURATION ROUNDS BEFORE-BIN AFTER-BIN [etcd]
# Serves two fresh nodes at once (BEFORE-BIN and AFTER-BIN, bbolt, or one fresh etcd
# with a prefix each), each with its profiling listener (debug.pprof_listen; a binary
# older than that key got a one-off harness serving net/http/pprof on $HARNESS_PPROF,
# which this script also sets), then ROUNDS x (before, after) runs of
#   bench --kind login --alg SM2 --concurrency 16 --duration DURATION --cpuprofile-from …
# with the 1-minute load average before and after each. BENCH: the ukeygate binary whose
# bench runs (default AFTER-BIN); OUT: where the JSON reports, profiles and the run list
# (LABEL-runs.txt) go (default /tmp/profile-rounds). Ports: 27471-27492 on 127.0.0.1.
set -e
label=$1; dur=$2; rounds=$3; before=$4; after=$5; backend=${6:-bbolt}
out=${OUT:-/tmp/profile-rounds}; bench=${BENCH:-$after}
mkdir -p $out
tmp=$(mktemp -d)
pids=
trap 'kill $pids 2>/dev/null; wait 2>/dev/null; rm -rf $tmp' EXIT
if [ "$backend" = etcd ]; then
  etcd --data-dir $tmp/etcd --listen-client-urls http://127.0.0.1:27471 --advertise-client-urls http://127.0.0.1:27471 \
    --listen-peer-urls http://127.0.0.1:27472 > $tmp/etcd.log 2>&1 &
  pids="$pids $!"
  for i in $(seq 100); do curl -sf http://127.0.0.1:27471/health >/dev/null && break; sleep 0.2; done
fi
start() { # NAME BIN PORT PPROF-PORT
  ( export UKEYGATE_DATA_DIR=$tmp/$1 UKEYGATE_LISTEN=127.0.0.1:$3 UKEYGATE_PUBLIC_URL=http://127.0.0.1:$3 \
      UKEYGATE_ADMIN_TOKEN=0123456789abcdef0123456789abcdef UKEYGATE_LOG_LEVEL=warn UKEYGATE_DEMO=false \
      UKEYGATE_RATE_LIMIT_ENABLED=false UKEYGATE_DEBUG_PPROF_LISTEN=127.0.0.1:$4 HARNESS_PPROF=127.0.0.1:$4
    if [ "$backend" = etcd ]; then
      export UKEYGATE_STORAGE_BACKEND=etcd UKEYGATE_STORAGE_ETCD_ENDPOINTS=http://127.0.0.1:27471 UKEYGATE_STORAGE_ETCD_PREFIX=/$1/
    fi
    $2 init >/dev/null; exec $2 serve > $tmp/$1.log 2>&1 ) &
  pids="$pids $!"
}
start before $before 27481 27482
start after $after 27491 27492
for p in 27481 27491; do
  for i in $(seq 50); do curl -sf http://127.0.0.1:$p/readyz >/dev/null && break; sleep 0.2; done
done
for r in $(seq 1 $rounds); do
  for v in before:27481:27482 after:27491:27492; do
    name=${v%%:*}; rest=${v#*:}; port=${rest%%:*}; pport=${rest#*:}
    la=$(cut -d' ' -f1-3 /proc/loadavg); t0=$(date -u +%T)
    $bench bench --server http://127.0.0.1:$port --admin-token 0123456789abcdef0123456789abcdef --json --kind login \
      --alg SM2 --duration $dur --concurrency 16 --cpuprofile-from http://127.0.0.1:$pport \
      --cpuprofile-out $out/$label-$name-$r.pb.gz > $out/$label-$name-$r.json
    la2=$(cut -d' ' -f1-3 /proc/loadavg); t1=$(date -u +%T)
    echo "$label $name $r $t0 $t1 [$la] [$la2]" | tee -a $out/$label-runs.txt
  done
done
