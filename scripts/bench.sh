#!/bin/sh
# The performance harness of issue 6 (docs/PERFORMANCE.md), in one command:
#
#   scripts/bench.sh
#
# Builds vabilld, vabill and the bench/ programs in release mode into
# build-release, then for every configuration, $RUNS times: starts a fresh
# server on a fresh database (a free port, --threads $THREADS), runs
# vabill-load for $DURATION seconds, records the figures and the server's
# peak RSS (VmHWM), and stops it.  The same for the Node peer
# (../shared/peer-node) when node is installed.  Then a database holding
# $SEED_INVOICES invoices (vabill-seed, cached in build-release/bench-work),
# the in-process microbenchmark (vabill-micro), and callgrind instruction
# counts: per batch for vabill-micro's stages, and per batch for vabilld and
# the peer under the same load.  Writes bench/results/<date>.md.
#
# Environment (defaults in brackets):
#   DURATION [20]        measured seconds per run (plus 1 s of warm-up)
#   RUNS [3]             runs per configuration; the report gives medians
#   CONNS [8]            connections of the main configurations
#   THREADS [8]          vabilld --threads
#   SEED_INVOICES [5000000]  size of the big database; 0 skips that part
#   PEER [1]             0 skips the Node peer
#   CALLGRIND [1]        0 skips the callgrind counts
#   CG_BATCHES [10]      batches per callgrind measurement
#   MICRO_BATCHES [50]   batches of the native vabill-micro run
#   ONLY                 space-separated configuration names to run (see
#                        CONFIGS below), e.g. ONLY="vabill-accept peer-accept"
#   PEER_DIR [../shared/peer-node], BUILD [build-release]
#
# Not a test: ctest never runs it.  Wall-clock figures depend on what else
# the machine is doing; the report records the load average around the run.
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20}
RUNS=${RUNS:-3}
CONNS=${CONNS:-8}
THREADS=${THREADS:-8}
SEED_INVOICES=${SEED_INVOICES:-5000000}
PEER=${PEER:-1}
CALLGRIND=${CALLGRIND:-1}
CG_BATCHES=${CG_BATCHES:-10}
MICRO_BATCHES=${MICRO_BATCHES:-50}
PEER_DIR=${PEER_DIR:-../shared/peer-node}
BUILD=${BUILD:-build-release}
ONLY=${ONLY:-}
KEY=7bc074f97c3131d2e290a4as

CONFIGS="vabill-accept peer-accept vabill-replay peer-replay vabill-json vabill-batch1
vabill-batch10 vabill-batch100 vabill-c64 vabill-big vabill-at-100k"

echo "== building (Release) into $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target vabilld vabill vabill-load vabill-micro vabill-seed \
    >/dev/null
WORK=$BUILD/bench-work
mkdir -p "$WORK" bench/results
WORK=$(cd "$WORK" && pwd)
BIN=$(cd "$BUILD" && pwd)
LOAD=$BIN/bench/vabill-load
MICRO=$BIN/bench/vabill-micro
SEED=$BIN/bench/vabill-seed
RES=$WORK/results.txt
RSS=$WORK/rss.txt
CG=$WORK/callgrind.txt
: >"$RES"
: >"$RSS"
: >"$CG"
cat /proc/loadavg >"$WORK/loadavg-before"
date -u '+%Y-%m-%d %H:%M:%S UTC' >"$WORK/started"

have_peer=0
if [ "$PEER" = 1 ] && command -v node >/dev/null 2>&1 && [ -x "$PEER_DIR/start.sh" ]; then
    have_peer=1
    PEER_DIR=$(cd "$PEER_DIR" && pwd)
fi

wanted() {
    [ -z "$ONLY" ] && return 0
    case " $ONLY " in *" $1 "*) return 0 ;; esac
    return 1
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fresh_db() {
    rm -f "$1" "$1-wal" "$1-shm"
}

SPID=
PORT=
# start_vabilld DB LABEL [valgrind args...]: sets SPID and PORT
start_vabilld() {
    db=$1 label=$2
    shift 2
    "$@" "$BIN/vabilld" --db "$db" --listen 127.0.0.1:0 --threads "$THREADS" \
        >"$WORK/$label.listen" 2>"$WORK/$label.server.log" &
    SPID=$!
    wait_listening "$label" 600
}

# start_peer DB LABEL: the Node peer through its own start.sh
start_peer() {
    db=$1 label=$2
    PORT=$(free_port)
    LOG=0 "$PEER_DIR/start.sh" "$db" "$PORT" >"$WORK/$label.listen" 2>"$WORK/$label.server.log" &
    SPID=$!
    wait_listening "$label" 900
}

wait_listening() {
    i=0
    while ! grep -q '^listening on ' "$WORK/$1.listen" 2>/dev/null; do
        if ! kill -0 "$SPID" 2>/dev/null || [ "$i" -ge $(($2 * 10)) ]; then
            echo "bench: $1: the server did not start; see $WORK/$1.server.log" >&2
            tail -5 "$WORK/$1.server.log" >&2
            exit 1
        fi
        i=$((i + 1))
        sleep 0.1
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$WORK/$1.listen")
}

# The server process itself: start.sh execs node, so $! is node; under
# valgrind it is valgrind's process, which is the program.
stop_server() {
    label=$1
    if ! kill -0 "$SPID" 2>/dev/null; then
        st=0
        wait "$SPID" 2>/dev/null || st=$?
        echo "bench: $label: the server had exited before the end (status $st)" >&2
        echo "$label 0 died:$st" >>"$RSS"
        SPID=
        return
    fi
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SPID/status" 2>/dev/null || echo 0)
    echo "$label ${hwm:-0}" >>"$RSS"
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=
}

cleanup() {
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# run_load LABEL RUN ARGS...: one run of vabill-load against PORT
run_load() {
    label=$1 r=$2
    shift 2
    "$LOAD" --port "$PORT" --tag "$label" -d "$DURATION" "$@" >"$WORK/$label.$r.out" 2>&1 || true
    grep '^RESULT' "$WORK/$label.$r.out" >>"$RES" || echo "RESULT tag=$label failed=1" >>"$RES"
    sed -n '2,4p' "$WORK/$label.$r.out"
}

# config NAME SERVER(vabill|peer) DB LOAD-ARGS...: RUNS runs, each on a
# fresh server and database (fresh.db and peer.db made anew, big.db copied
# anew from SEED_COPY), so every run measures the same starting state: an
# accept run adds millions of invoices, and "the empty database" would
# otherwise be empty for the first run only.
config() {
    name=$1 server=$2 db=$3
    shift 3
    wanted "$name" || return 0
    if [ "$server" = peer ] && [ "$have_peer" = 0 ]; then
        return 0
    fi
    echo "== $name: $* ($RUNS x ${DURATION}s)"
    r=1
    while [ "$r" -le "$RUNS" ]; do
        if [ "$server" = vabill ]; then
            if [ "$db" = "$WORK/fresh.db" ]; then
                fresh_db "$db"
                "$BIN/vabill" --db "$db" community add SGWTES --key "$KEY" --bank 008:62806 \
                    --bank 009:88712 >/dev/null
            elif [ -n "${SEED_COPY:-}" ]; then
                fresh_db "$db"
                cp "$SEED_COPY" "$db"
            fi
            sync # no writeback of the previous run's files during this one
            start_vabilld "$db" "$name"
        else
            fresh_db "$db"
            sync
            start_peer "$db" "$name"
        fi
        run_load "$name" "$r" "$@"
        stop_server "$name"
        r=$((r + 1))
    done
}

B="-b 500"
config vabill-accept vabill "$WORK/fresh.db" -c "$CONNS" $B
config peer-accept peer "$WORK/peer.db" -c "$CONNS" $B
config vabill-replay vabill "$WORK/fresh.db" -c "$CONNS" $B --replay
config peer-replay peer "$WORK/peer.db" -c "$CONNS" $B --replay
config vabill-json vabill "$WORK/fresh.db" -c "$CONNS" $B --json
config vabill-batch1 vabill "$WORK/fresh.db" -c "$CONNS" -b 1
config vabill-batch10 vabill "$WORK/fresh.db" -c "$CONNS" -b 10
config vabill-batch100 vabill "$WORK/fresh.db" -c "$CONNS" -b 100
config vabill-c64 vabill "$WORK/fresh.db" -c 64 $B
# latency at the throughput target (100,000 invoices/s = 200 requests/s of
# 500), on a fixed schedule instead of as fast as answers come back
config vabill-at-100k vabill "$WORK/fresh.db" -c "$CONNS" $B --rate 200

# The big database: seeded once through the store API and cached (seeding
# 5M invoices takes minutes), copied for every run so runs are comparable.
if [ "$SEED_INVOICES" -gt 0 ] && wanted vabill-big; then
    seed=$WORK/seed-$SEED_INVOICES.db
    if [ ! -f "$seed.done" ]; then
        echo "== seeding $SEED_INVOICES invoices into $seed"
        fresh_db "$seed"
        "$SEED" --db "$seed" -n "$SEED_INVOICES" >"$WORK/seed-$SEED_INVOICES.log" 2>&1
        touch "$seed.done"
    fi
    tail -1 "$WORK/seed-$SEED_INVOICES.log" || true
    SEED_COPY=$seed
    config vabill-big vabill "$WORK/big.db" -c "$CONNS" $B
    SEED_COPY=
    echo "big_db_bytes $(stat -c %s "$seed")" >>"$CG"
    echo "seed_invoices $SEED_INVOICES" >>"$CG"
fi

echo "== vabill-micro ($MICRO_BATCHES batches, native)"
"$MICRO" -n "$MICRO_BATCHES" >"$WORK/micro.out"
grep -v '^MICRO' "$WORK/micro.out"

if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null 2>&1; then
    echo "== callgrind: vabill-micro ($CG_BATCHES batches)"
    cgm=$WORK/cg-micro.out
    rm -f "$cgm" "$WORK/cg-micro.db"*
    valgrind --tool=callgrind --callgrind-out-file="$cgm" "$MICRO" -n "$CG_BATCHES" \
        --db "$WORK/cg-micro.db" >/dev/null 2>"$WORK/cg-micro.log"
    callgrind_annotate --inclusive=yes "$cgm" >"$WORK/cg-micro.inclusive.txt" 2>/dev/null
    # where the accept path's instructions go: only accept_batch collected
    cga=$WORK/cg-accept.out
    rm -f "$cga" "$WORK/cg-micro.db"*
    valgrind --tool=callgrind --callgrind-out-file="$cga" --toggle-collect=accept_batch \
        "$MICRO" -n "$CG_BATCHES" --only service --db "$WORK/cg-micro.db" >/dev/null \
        2>"$WORK/cg-accept.log"
    callgrind_annotate "$cga" >"$WORK/cg-accept.self.txt" 2>/dev/null
    callgrind_annotate --inclusive=yes "$cga" >"$WORK/cg-accept.inclusive.txt" 2>/dev/null
    rm -f "$WORK/cg-micro.db"*

    # Whole servers under the same load: instructions per 500-invoice batch,
    # all threads, counted from after a warm-up to the end of the load.
    server_cg() {
        label=$1
        n=$((CG_BATCHES / 2 > 0 ? CG_BATCHES / 2 : 1))
        "$LOAD" --port "$PORT" -c 2 -n 3 >/dev/null 2>&1 || true # warm-up
        # start.sh execs node, the wrapper execs valgrind: one process id
        vpid=$SPID
        callgrind_control -i on "$vpid" >/dev/null 2>&1
        "$LOAD" --port "$PORT" -c 2 -n "$n" >"$WORK/cg-server-$label.load" 2>&1 || true
        callgrind_control -d "$vpid" >/dev/null 2>&1
        sleep 1
        ir=$(grep -h '^totals:' "$WORK"/cg-server-"$label".out.* 2>/dev/null | awk '{s += $2} END {print s + 0}')
        echo "server_ir $label $ir $((2 * n))" >>"$CG"
        kill -TERM "$vpid" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
        SPID=
    }
    echo "== callgrind: vabilld under load"
    rm -f "$WORK"/cg-server-vabill.out.*
    fresh_db "$WORK/fresh.db"
    "$BIN/vabill" --db "$WORK/fresh.db" community add SGWTES --key "$KEY" --bank 008:62806 \
        --bank 009:88712 >/dev/null
    start_vabilld "$WORK/fresh.db" cg-vabill valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$WORK/cg-server-vabill.out.%p"
    server_cg vabill
    if [ "$have_peer" = 1 ]; then
        echo "== callgrind: the Node peer under load"
        # start.sh runs `node`; a wrapper first in PATH puts server.js under
        # callgrind and leaves npm and seed.js alone
        mkdir -p "$WORK/nodewrap"
        realnode=$(command -v node)
        cat >"$WORK/nodewrap/node" <<EOF
#!/bin/sh
case "\$1" in
*server.js) exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$WORK/cg-server-peer.out.%p "$realnode" "\$@" ;;
*) exec "$realnode" "\$@" ;;
esac
EOF
        chmod +x "$WORK/nodewrap/node"
        rm -f "$WORK"/cg-server-peer.out.*
        fresh_db "$WORK/peer.db"
        PATH="$WORK/nodewrap:$PATH" start_peer "$WORK/peer.db" cg-peer
        server_cg peer
    fi
fi

cat /proc/loadavg >"$WORK/loadavg-after"

# ---------------------------------------------------------------- report
day=$(date +%Y-%m-%d)
out=bench/results/$day.md
k=2
while [ -e "$out" ]; do
    out=bench/results/$day-$k.md
    k=$((k + 1))
done
{
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ has uncommitted changes)')"
    echo "started $(cat "$WORK/started")"
    echo "duration $DURATION runs $RUNS conns $CONNS threads $THREADS"
    echo "loadavg_before $(cat "$WORK/loadavg-before")"
    echo "loadavg_after $(cat "$WORK/loadavg-after")"
    echo "nproc $(nproc)"
    echo "kernel $(uname -srmv)"
    echo "sqlite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || pkg-config --modversion sqlite3)"
    echo "sqlite_lib $(pkg-config --modversion sqlite3 2>/dev/null || echo unknown)"
    echo "node $(node --version 2>/dev/null || echo none)"
    echo "cc $(cc --version | head -1)"
} >"$WORK/meta.txt"
lscpu >"$WORK/lscpu.txt" 2>/dev/null || true
free -m >"$WORK/free.txt" 2>/dev/null || true
python3 - "$WORK" "$out" "$CG_BATCHES" <<'PY'
import os, re, statistics, sys
work, out, cgn = sys.argv[1], sys.argv[2], int(sys.argv[3])

def kv(line):
    return dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)

runs = {}
for line in open(os.path.join(work, "results.txt")):
    d = kv(line)
    runs.setdefault(d.get("tag", "?"), []).append(d)
rss, died = {}, {}
for line in open(os.path.join(work, "rss.txt")):
    a = line.split()
    if len(a) >= 2:
        rss[a[0]] = max(rss.get(a[0], 0), int(a[1]))  # the largest of the runs
    if len(a) == 3:
        died[a[0]] = a[2]
meta = dict(l.rstrip("\n").split(" ", 1) for l in open(os.path.join(work, "meta.txt")) if " " in l)
cg = {}
for line in open(os.path.join(work, "callgrind.txt")):
    a = line.split()
    if a[0] == "server_ir" and len(a) == 4:
        cg[("server", a[1])] = (int(a[2]), int(a[3]))
    elif len(a) == 2:
        cg[a[0]] = a[1]

def med(rs, k):
    v = [float(r[k]) for r in rs if k in r]
    return statistics.median(v) if v else None

def row(tag):
    rs = [r for r in runs.get(tag, []) if "ips" in r]
    if not rs:
        return None
    return {
        "ips": med(rs, "ips"), "rps": med(rs, "rps"), "p50": med(rs, "p50_ms"),
        "p90": med(rs, "p90_ms"), "p99": med(rs, "p99_ms"), "max": max(float(r["max_ms"]) for r in rs),
        "errors": sum(int(r["errors"]) for r in rs) + sum(1 for r in runs[tag] if "failed" in r),
        "lo": min(float(r["ips"]) for r in rs), "hi": max(float(r["ips"]) for r in rs),
        "n": len(rs), "conns": rs[0]["conns"], "batch": rs[0]["batch"], "mode": rs[0]["mode"],
        "body": rs[0]["body"], "cpu": med(rs, "client_cpu_s"),
    }

L = []
w = L.append
w(f"# Benchmark run {meta.get('started', '')}\n")
w(f"Written by `scripts/bench.sh` (see docs/PERFORMANCE.md).  Commit {meta.get('commit')}.")
d = meta.get("duration", "").split()
w(f"Each configuration: {d[2] if len(d) > 2 else '?'} runs of {d[0] if d else '?'} s, each on a fresh server and database (the big one copied anew), vabilld --threads {d[6] if len(d) > 6 else '?'}.")
w(f"Figures are medians over the runs; `max` is the largest of the runs; errors are summed.\n")
w("## Machine\n")
w("```")
for k in ("nproc", "kernel", "sqlite_lib", "node", "cc", "loadavg_before", "loadavg_after"):
    w(f"{k}: {meta.get(k, '')}")
w("```\n")
w("```")
w(open(os.path.join(work, "lscpu.txt")).read().rstrip())
w(open(os.path.join(work, "free.txt")).read().rstrip())
w("```\n")
w("## HTTP load (vabill-load)\n")
w("| configuration | mode | body | batch | conns | invoices/s (min-max) | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors | peak RSS MiB | generator CPU s |")
w("|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
order = ["vabill-accept", "peer-accept", "vabill-replay", "peer-replay", "vabill-json",
         "vabill-batch1", "vabill-batch10", "vabill-batch100", "vabill-c64", "vabill-big",
         "vabill-at-100k"]
for tag in order + sorted(t for t in runs if t not in order):
    r = row(tag)
    if r is None:
        if tag in runs:
            w(f"| {tag} | failed | | | | | | | | | | | | |")
        continue
    mib = f"{rss[tag] / 1024:.0f}" if rss.get(tag) else ""
    if tag in died:
        mib = f"server {died[tag].replace(':', ' ')}"
    w(f"| {tag} | {r['mode']} | {r['body']} | {r['batch']} | {r['conns']} | {r['ips']:.0f} ({r['lo']:.0f}-{r['hi']:.0f}) | {r['rps']:.1f} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | {r['errors']} | {mib} | {r['cpu']:.1f} |")
if died:
    w("\nA server marked `died` exited before it was stopped: the runs after that have errors (connection refused).")
w("")
def ratio(a, b, label):
    ra, rb = row(a), row(b)
    if ra and rb and rb["ips"]:
        w(f"- {label}: {ra['ips'] / rb['ips']:.2f}")
w("Ratios (medians of invoices/s):\n")
ratio("vabill-accept", "peer-accept", "vabill / peer, accept")
ratio("vabill-replay", "vabill-accept", "vabill replay / accept (target >= 1)")
ratio("peer-replay", "peer-accept", "peer replay / accept")
ratio("vabill-big", "vabill-accept", f"vabill on a {cg.get('seed_invoices', '?')}-invoice database / empty (target >= 0.70)")
ratio("vabill-json", "vabill-accept", "JSON bodies / form bodies")
if "big_db_bytes" in cg:
    w(f"- seeded database: {int(cg['big_db_bytes']) / 2**30:.2f} GiB")
r100 = row("vabill-at-100k")
if r100:
    w(f"- p99 at 200 requests/s scheduled ({r100['ips']:.0f} invoices/s; target <= 20 ms): {r100['p99']:.1f} ms")
w("")

w("## In process (vabill-micro, native)\n")
w("Milliseconds per 500-invoice batch; `pure` stages are decode -> validate -> encode without store or HTTP.\n")
w("| measurement | mean ms | median ms |")
w("|---|---:|---:|")
for line in open(os.path.join(work, "micro.out")):
    if line.startswith("MICRO"):
        d = kv(line)
        w(f"| {d['stage']} | {float(d['mean_ms']):.3f} | {float(d['median_ms']):.3f} |")
w("")

inc = os.path.join(work, "cg-micro.inclusive.txt")
if os.path.exists(inc):
    w(f"## Instructions (callgrind, vabill-micro, {cgn} batches)\n")
    w("Inclusive instructions per 500-invoice batch (`accept_batch` and `replay_batch` are svc_sendinvoice with a file store; `store_batch` is commit_units alone).\n")
    w("| function | Ir per batch |")
    w("|---|---:|")
    names = ["pure_batch", "st_decode", "st_request_fields", "st_signature", "st_parse_invoices",
             "st_payload_hash", "st_invoice_fields", "st_render", "store_batch", "accept_batch",
             "replay_batch"]
    found = {}
    for line in open(inc):
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+\S*?:(\w+)\s", line)
        if m and m.group(2) in names and m.group(2) not in found:
            found[m.group(2)] = int(m.group(1).replace(",", ""))
    for n in names:
        if n in found:
            w(f"| {n} | {found[n] / cgn / 1e6:.1f} M |")
    w("")
    acc = os.path.join(work, "cg-accept.inclusive.txt")
    if os.path.exists(acc):
        w("Accept path (svc_sendinvoice, only `accept_batch` collected), inclusive per batch, top entries:\n")
        w("```")
        k = 0
        for line in open(acc):
            m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S+)\s*(\[.*\])?", line)
            if m and "PROGRAM TOTALS" not in line:
                fn = m.group(3).split(":")[-1]
                lib = os.path.basename((m.group(4) or "").strip("[]"))
                if float(m.group(2)) >= 99.99 and fn != "svc_sendinvoice":
                    continue  # main, libc start-up and the harness's own frames
                w(f"{int(m.group(1).replace(',', '')) / cgn / 1e6:8.1f} M  {m.group(2):>6}%  {fn}  {lib}")
                k += 1
                if k >= 30:
                    break
        w("```\n")
        w("Self cost (exclusive), top entries:\n")
        w("```")
        k = 0
        for line in open(os.path.join(work, "cg-accept.self.txt")):
            m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S+)\s*(\[.*\])?", line)
            if m and "PROGRAM TOTALS" not in line:
                fn = m.group(3).split(":")[-1]
                lib = os.path.basename((m.group(4) or "").strip("[]"))
                w(f"{int(m.group(1).replace(',', '')) / cgn / 1e6:8.2f} M  {m.group(2):>6}%  {fn}  {lib}")
                k += 1
                if k >= 25:
                    break
        w("```\n")
srv = {k[1]: v for k, v in cg.items() if isinstance(k, tuple)}
if srv:
    w("## Servers under callgrind\n")
    w("Instructions of the whole server process (all threads) per 500-invoice batch, counted after a warm-up of 3 batches, 2 connections.\n")
    w("| server | batches | Ir per batch |")
    w("|---|---:|---:|")
    for s, (ir, n) in sorted(srv.items()):
        w(f"| {s} | {n} | {ir / n / 1e6:.1f} M |")
    if "vabill" in srv and "peer" in srv and srv["peer"][0]:
        a, b = srv["vabill"], srv["peer"]
        w(f"\n- vabill / peer, instructions per batch: {(a[0] / a[1]) / (b[0] / b[1]):.2f}")
        ra, rb = row("vabill-accept"), row("peer-accept")
        if ra and rb:
            w(f"- vabill / peer, wall-clock invoices/s (HTTP load above): {ra['ips'] / rb['ips']:.2f}")
    w("")
open(out, "w").write("\n".join(L) + "\n")
print(f"bench: wrote {out}")
PY
