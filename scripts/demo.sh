#!/bin/sh
# The README's first command: installs what vabill needs, builds it, creates
# a demo community on the embedded SQLite store, starts vabilld, and sends
# the SPEC's two example invoices so you see VA numbers come back.  The
# server keeps running in the foreground until Ctrl-C (DEMO_EXIT=1 stops it
# after the demo request instead).
set -eu
cd "$(dirname "$0")/.."
if [ "${VABILL_SKIP_DEPS:-0}" != 1 ]; then
    sh scripts/deps.sh
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"

demo=${DEMO_DIR:-./demo}
mkdir -p "$demo"
db="$demo/vabill.db"
port=${DEMO_PORT:-8080}
key=7bc074f97c3131d2e290a4as
if ! ./build/vabill --db "$db" community show SGWTES >/dev/null 2>&1; then
    ./build/vabill --db "$db" community add SGWTES --key "$key" \
        --bank 008:62806 --bank 009:88712
fi

./build/vabilld --db "$db" --listen "127.0.0.1:$port" >"$demo/listening" 2>"$demo/vabilld.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 50); do
    grep -q '^listening on ' "$demo/listening" 2>/dev/null && break
    sleep 0.1
done
cat "$demo/listening"

# A signed request, exactly as a partner sends it (SPEC 1.1, 1.2).
rq_uuid="DEMO-$(date +%s)"
rq_datetime=$(date -u -d '+7 hours' '+%Y-%m-%d %H:%M:%S')
signature=$(./build/vabill sign --key "$key" --rq-uuid "$rq_uuid" \
    --rq-datetime "$rq_datetime" --comm-code SGWTES)
echo "POST /rest/virtualaccount/sendinvoice rq_uuid=$rq_uuid (invoices from examples/invoices.json)"
curl -sS "http://127.0.0.1:$port/rest/virtualaccount/sendinvoice" \
    --data-urlencode "rq_uuid=$rq_uuid" \
    --data-urlencode "rq_datetime=$rq_datetime" \
    --data-urlencode "signature=$signature" \
    --data-urlencode "comm_code=SGWTES" \
    --data-urlencode "ccy=IDR" \
    --data-urlencode "invoices@examples/invoices.json" \
    --data-urlencode "total_invoices=2" | python3 -m json.tool
echo "stored: ./build/vabill --db $db invoice show SGWTES INVZSKSK022"
./build/vabill --db "$db" invoice show SGWTES INVZSKSK022 | python3 -m json.tool

if [ "${DEMO_EXIT:-0}" = 1 ]; then
    exit 0
fi
echo "vabilld is serving on 127.0.0.1:$port (log: $demo/vabilld.log); Ctrl-C stops it."
wait $pid
