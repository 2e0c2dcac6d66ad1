#!/bin/sh
# Production-style load: the signing keys in a throw-away SoftHSM2 token (keys init), records on
# the throw-away PostgreSQL of `./vx postgres`, the app gateway, and `vaxcert bench issue`.
#   cargo build --release
#   ./vx postgres benches/production_load.sh --concurrency 32 --duration 20 [--rate 300]
#   MODE=files ./vx postgres benches/production_load.sh …    (the same with file keys)
# The virtual cards are the dev personas', so records runs with --dev for the card trust only:
# with MODE=hsm every signing key and secret comes from the ceremony, none from certs/dev.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${CARGO_TARGET_DIR:-$ROOT/target}/release/vaxcert
W=$(mktemp -d); mkdir -p $W/tokens; cd $W
trap 'rm -rf "$W"' EXIT
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' $W > softhsm2.conf
export SOFTHSM2_CONF=$W/softhsm2.conf VAXCERT_HSM_PIN=1234
softhsm2-util --init-token --free --label vaxcert --pin 1234 --so-pin 5678 >/dev/null
cat > keys.toml <<T
out = "keys"
iss = "https://load.example/issuer"
organisation = "Load City"
self_signed = true
[hsm]
module = "/usr/lib/softhsm/libsofthsm2.so"
token = "vaxcert"
T
$B keys init --config keys.toml >/dev/null
U=$VAXCERT_TEST_POSTGRES_URL
$B records --keys-dir keys/secrets --database-url $U seed-demo >/dev/null
MODE=${MODE:-hsm}
if [ "$MODE" = hsm ]; then
cat > records.toml <<T
database_url = "$U"
keys_dir = "$W/keys/secrets"
challenge_key = "$W/keys/secrets/challenge-hmac.key"
token_key = "$W/keys/secrets/preview-token.key"
signing_keys_dir = "$W/keys"
tls_dir = "$ROOT/certs/dev/tls"
trust = "dev"
listen = "127.0.0.1:8443"
counter_listen = "127.0.0.1:0"
publication_dir = "$W/pub"
no_pdf = ${NOPDF:-true}
[hsm]
module = "/usr/lib/softhsm/libsofthsm2.so"
token = "vaxcert"
T
(cd "$ROOT" && $B records --dev serve --config $W/records.toml > $W/records.log 2>&1) &
else
(cd "$ROOT" && $B records --dev --keys-dir $W/keys/secrets --database-url $U serve --trust dev ${NOPDFFLAG:---no-pdf} --publication-dir $W/pub > $W/records.log 2>&1) &
fi
sleep 2
(cd "$ROOT" && $B app serve --dev --rate-limit 1000000 > $W/app.log 2>&1) &
sleep 2
cd "$ROOT"
$B bench issue --target https://127.0.0.1:8080 $@ --server-pid $(pgrep -f 'records.*serve' | head -1) --server-pid $(pgrep -f 'app serve' | head -1) || true
pkill -f 'vaxcert records' || true; pkill -f 'vaxcert app serve' || true
sleep 1
