#!/bin/sh
# Records at scale, measured: the same load (vaxcert bench issue through one app gateway) on
#   sqlite      one records process on SQLite (the embedded default);
#   pg1         one records process on PostgreSQL;
#   pg2         two records replicas on the same PostgreSQL, the gateway naming both.
# For each: the saturated rate (unpaced), then p99 at half that rate (paced).
#   cargo build --release
#   ./vx postgres benches/scale_load.sh [sqlite pg1 pg2]      (DURATION=15 CONCURRENCY=32;
#   VAXCERT_BIN=another build to compare)
# Every process runs on the same 2 cores: the aim is no loss from the second replica, not a
# speed-up. Dev keys (the virtual cards are the dev personas'); PDFs off unless PDF=1.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${VAXCERT_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/vaxcert}
D=${DURATION:-15}; C=${CONCURRENCY:-32}
# PDF=1: records renders and signs the PDF, and the tool insists on one in every answer.
if [ "${PDF:-0}" = 1 ]; then NOPDF=""; WANTPDF="--pdf"; else NOPDF="--no-pdf"; WANTPDF=""; fi
W=$(mktemp -d)
stop() { pkill -f "$B records" 2>/dev/null || true; pkill -f "$B app serve" 2>/dev/null || true; sleep 1; }
trap 'stop; rm -rf "$W"' EXIT
cd "$ROOT"
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
run() {
    name=$1; url=$2; n=$3
    stop
    if [ "${url#postgres}" != "$url" ]; then
        psql_url=$url
        # A fresh schema each time: drop everything records made.
        runuser -u postgres -- /usr/lib/postgresql/15/bin/psql "$psql_url" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null
    else
        rm -f "$W/load.db"*
    fi
    $B records --dev --database-url "$url" seed-demo >/dev/null
    urls=""; pids=""
    i=0
    while [ $i -lt "$n" ]; do
        p=$(free)
        $B records --dev --database-url "$url" serve --trust dev $NOPDF --listen 127.0.0.1:$p \
            --counter-listen 127.0.0.1:0 --publication-dir "$W/pub$i" >"$W/records$i.log" 2>&1 &
        pids="$pids --server-pid $!"
        urls="${urls:+$urls,}https://127.0.0.1:$p"
        i=$((i + 1))
    done
    sleep 2
    $B app serve --dev --rate-limit 1000000 --records-url "$urls" >"$W/app.log" 2>&1 &
    pids="$pids --server-pid $!"
    sleep 2
    echo "== $name: saturated"
    out=$($B bench issue --target https://127.0.0.1:8080 --concurrency "$C" --duration "$D" $WANTPDF $pids)
    echo "$out"
    rate=$(echo "$out" | sed -n 's/.*= \([0-9]*\)\/s.*/\1/p' | head -1)
    half=${HALF:-$((rate / 2))}
    echo "== $name: half load ($half/s)"
    $B bench issue --target https://127.0.0.1:8080 --concurrency "$C" --duration "$D" --rate "$half" $WANTPDF $pids
}
for mode in ${*:-sqlite pg1 pg2}; do
    case $mode in
        sqlite) run sqlite "sqlite://$W/load.db" 1 ;;
        pg1) run "postgres, 1 replica" "$VAXCERT_TEST_POSTGRES_URL" 1 ;;
        pg2) run "postgres, 2 replicas" "$VAXCERT_TEST_POSTGRES_URL" 2 ;;
    esac
done
