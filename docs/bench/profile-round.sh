#!/bin/sh
# usage: profile-round.sh NAME SERVER-BINARY PORT PPROF-PORT [DURATION]
# Serves a fresh bbolt node with its profiling listener on 127.0.0.1:PPROF-PORT
# (debug.pprof_listen), then runs 3 x `bench --duration DURATION --concurrency 16`
# (login SM2) with --cpuprofile-from, printing each run's CPU per completed
# session by category beside the load average.
# BENCH: the ukeygate binary whose bench runs (default /tmp/ukeygate); OUT: where
# the JSON reports and profiles go (default /tmp).
set -e
name=$1; bin=$2; port=$3; pport=$4; dur=${5:-40s}
out=${OUT:-/tmp}
d=$(mktemp -d)
export UKEYGATE_DATA_DIR=$d/data UKEYGATE_LISTEN=127.0.0.1:$port UKEYGATE_PUBLIC_URL=http://127.0.0.1:$port \
  UKEYGATE_ADMIN_TOKEN=0123456789abcdef0123456789abcdef UKEYGATE_LOG_LEVEL=warn UKEYGATE_DEMO=false \
  UKEYGATE_RATE_LIMIT_ENABLED=false UKEYGATE_DEBUG_PPROF_LISTEN=127.0.0.1:$pport
$bin init >/dev/null
$bin serve > $d/serve.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $d' EXIT
for i in 1 2 3 4 5 6 7 8 9 10; do curl -sf http://127.0.0.1:$port/readyz >/dev/null && break; sleep 1; done
for r in 1 2 3; do
  la=$(cut -d' ' -f1-3 /proc/loadavg); t0=$(date -u +%T)
  ${BENCH:-/tmp/ukeygate} bench --server http://127.0.0.1:$port --json --kind login --alg SM2 --duration $dur \
    --concurrency 16 --cpuprofile-from http://127.0.0.1:$pport --cpuprofile-out $out/$name-$r.pb.gz > $out/$name-$r.json
  la2=$(cut -d' ' -f1-3 /proc/loadavg); t1=$(date -u +%T)
  python3 - "$out/$name-$r.json" "$name run $r $t0-$t1 load [$la] -> [$la2]" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); p = r['cpu_profile']
print('%s: %.1f sessions/s, %d completed %d failed; profile %d samples, %d sessions in it, %.2f ms CPU/session' % (
    sys.argv[2], r['sessions_per_second'], r['completed'], r['failed'], p['samples'], p['sessions'], p['ms_per_session']))
print('  ' + '  '.join('%s %.3f' % (c['category'], c['ms_per_session']) for c in p['categories']))
PY
done
