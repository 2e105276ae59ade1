#!/bin/sh
# The README's first command: installs what vabill needs, builds it, creates
# a demo community on the embedded SQLite store, starts vabilld, sends the
# SPEC's two example invoices so you see VA numbers come back, pays one of
# them as the bank would, shows the partner's notification arriving at a
# tiny receiver, asks for the invoice's status, and makes an operator for
# the web console.  The server keeps
# running in the foreground until Ctrl-C (DEMO_EXIT=1 stops it after the
# demo instead).  Each run starts from a fresh demo database.
set -eu
cd "$(dirname "$0")/.."
if [ "${VABILL_SKIP_DEPS:-0}" != 1 ]; then
    sh scripts/deps.sh
fi
# DEMO_BIN: a directory with vabilld and vabill already built (the tests
# run the demo that way); otherwise build into ./build.
bin=${DEMO_BIN:-./build}
if [ -z "${DEMO_BIN:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
fi

demo=${DEMO_DIR:-./demo}
mkdir -p "$demo"
db="$demo/vabill.db"
rm -f "$db" "$db-wal" "$db-shm"
port=${DEMO_PORT:-8080}
rport=${DEMO_RECEIVER_PORT:-8081}
key=7bc074f97c3131d2e290a4as
bank_key=mandiri-demo-key
vabill() { "$bin/vabill" --db "$db" "$@"; }

# The partner's endpoint for payment notifications (SPEC 5.3).
python3 examples/receiver.py "$rport" "$key" >"$demo/receiver.log" 2>&1 &
rpid=$!
vabill community add SGWTES --key "$key" --bank 008:62806 --bank 009:88712 \
    --notify-url "http://127.0.0.1:$rport/notify"
vabill bank add 008 --key "$bank_key" --name Mandiri

"$bin/vabilld" --db "$db" --listen "127.0.0.1:$port" >"$demo/listening" 2>"$demo/vabilld.log" &
pid=$!
stop() {
    st=$?
    trap - EXIT INT TERM
    kill "$pid" "$rpid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    exit "$st"
}
trap stop EXIT INT TERM
for _ in $(seq 1 50); do
    grep -q '^listening on ' "$demo/listening" 2>/dev/null && break
    sleep 0.1
done
cat "$demo/listening"
url="http://127.0.0.1:$port"

# 1. The partner sends its invoices, signed exactly as SPEC 1.2 says.
rq_uuid="DEMO-$(date +%s)"
rq_datetime=$(date -u -d '+7 hours' '+%Y-%m-%d %H:%M:%S')
signature=$("$bin/vabill" sign --key "$key" --rq-uuid "$rq_uuid" \
    --rq-datetime "$rq_datetime" --comm-code SGWTES)
echo
echo "== 1. POST /rest/virtualaccount/sendinvoice rq_uuid=$rq_uuid (examples/invoices.json)"
curl -sS "$url/rest/virtualaccount/sendinvoice" \
    --data-urlencode "rq_uuid=$rq_uuid" \
    --data-urlencode "rq_datetime=$rq_datetime" \
    --data-urlencode "signature=$signature" \
    --data-urlencode "comm_code=SGWTES" \
    --data-urlencode "ccy=IDR" \
    --data-urlencode "invoices@examples/invoices.json" \
    --data-urlencode "total_invoices=2" >"$demo/answer.json"
python3 -m json.tool "$demo/answer.json"

# 2. A member pays INVZSKSK022 at Mandiri: vabill plays the bank.
va=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(a["invoices"]["INVZSKSK022"]["list_va"]["008"]["va_number"])' "$demo/answer.json")
echo
echo "== 2. vabill pay --bank 008 $va 20000 (inquiry, then payment)"
"$bin/vabill" pay --url "$url" --bank 008 --key "$bank_key" "$va" 20000

# 3. The partner hears about it.
echo
echo "== 3. the partner's receiver"
for _ in $(seq 1 50); do
    grep -q 'notification received' "$demo/receiver.log" && break
    sleep 0.1
done
grep 'notification received' "$demo/receiver.log" || echo "(no notification yet: see $demo/vabilld.log)"

# 4. The partner asks for the invoice: paid.
echo
echo "== 4. vabill status INVZSKSK022"
"$bin/vabill" status --url "$url" --comm-code SGWTES --key "$key" INVZSKSK022 | python3 -m json.tool

# 5. An operator for the web console and the admin API.
echo
echo "== 5. vabill operator add demo (the console's login token)"
vabill operator add demo | tee "$demo/operator.txt"
token=$(grep -o 'vbo_[0-9a-f]*' "$demo/operator.txt")
curl -sS -H "Authorization: Bearer $token" "$url/admin/api/overview" | python3 -m json.tool

if [ "${DEMO_EXIT:-0}" = 1 ]; then
    exit 0
fi
echo
echo "vabilld is serving on $url (log: $demo/vabilld.log); Ctrl-C stops it."
echo "Console: $url/console/ (log in with the token above)"
wait $pid
