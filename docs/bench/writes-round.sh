#!/bin/sh
# usage: writes-round.sh NAME SERVER-BINARY PORT (BENCH: the ukeygate binary whose bench runs; OUT: where the JSON reports go)
set -e
name=$1; bin=$2; port=$3
d=$(mktemp -d)
export UKEYGATE_DATA_DIR=$d/data UKEYGATE_LISTEN=127.0.0.1:$port UKEYGATE_PUBLIC_URL=http://127.0.0.1:$port \
  UKEYGATE_ADMIN_TOKEN=0123456789abcdef0123456789abcdef UKEYGATE_LOG_LEVEL=warn UKEYGATE_DEMO=false UKEYGATE_RATE_LIMIT_ENABLED=false
$bin init >/dev/null
$bin serve > $d/serve.log 2>&1 &
pid=$!
for i in 1 2 3 4 5 6 7 8 9 10; do curl -sf http://127.0.0.1:$port/readyz >/dev/null && break; sleep 1; done
for r in 1 2 3; do
  la=$(cut -d' ' -f1-3 /proc/loadavg)
  ${BENCH:-/tmp/ukeygate} bench --server http://127.0.0.1:$port --json --kind login --alg SM2 --duration 10s --concurrency 16 > ${OUT:-/tmp}/$name-$r.json
  la2=$(cut -d' ' -f1-3 /proc/loadavg)
  python3 -c "import json,sys; r=json.load(open('${OUT:-/tmp}/$name-$r.json')); print('$name run $r: %.1f sessions/s, crypto limit %.0f/s, ratio %.2f, completed %d failed %d, load before [$la] after [$la2]' % (r['sessions_per_second'], r['crypto_limit']['sessions_per_second'], r['crypto_limit_ratio'], r['completed'], r['failed']))"
done
kill $pid; wait $pid 2>/dev/null || true
rm -rf $d
