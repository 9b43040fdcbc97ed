#!/usr/bin/env bash
# Side by side, on this machine: MCUboot's simulator cutting power after each flash call of an
# upgrade (its `perm_with_fails` test, built in release), and `cutpoint run` on the exhaustive
# campaign (cuts before, inside and after every flash operation). Each runs under
# /usr/bin/time; the script prints CPU seconds (user + system) and cut points per CPU second.
#
#   MCUBOOT_DIR=~/src/mcuboot scripts/vs-mcuboot.sh [campaign.toml]
#
# MCUBOOT_DIR is a checkout of MCUboot's source (its simulator is in sim/).
# MCUBOOT_FEATURES (optional) are the simulator's cargo features, e.g. "sig-ed25519".
# CUTPOINT_RUNS (optional, default 6): cutpoint runs, half before and half after MCUboot's, in
# one window; the median one counts.
# MCUboot's simulator runs its test on every device it knows (the nRF52840 configurations among
# them); every "Try interruption at" line it logs is one cut point, and the CPU time counted is
# the time of that whole run. Not run by CI: it needs MCUboot's source, gcc, and minutes.
set -euo pipefail

die() { echo "vs-mcuboot: $*" >&2; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
campaign="${1:-$here/campaigns/exhaustive.toml}"

[ -n "${MCUBOOT_DIR:-}" ] || die "MCUBOOT_DIR is not set: point it at a checkout of MCUboot's source, e.g. git clone https://github.com/mcu-tools/mcuboot && MCUBOOT_DIR=\$PWD/mcuboot $0"
[ -d "$MCUBOOT_DIR/sim" ] || die "MCUBOOT_DIR=$MCUBOOT_DIR has no sim/ folder: is it MCUboot's source? (MCUboot's simulator lives in sim/)"
# Even the simulator's default build compiles mbedTLS's SHA-256 from this submodule.
[ -f "$MCUBOOT_DIR/ext/mbedtls-3.6.0/library/sha256.c" ] \
    || die "MCUBOOT_DIR=$MCUBOOT_DIR has no ext/mbedtls-3.6.0 (a git submodule the simulator compiles): run git submodule update --init ext/mbedtls-3.6.0 in it"
# The key files the simulator's tests embed sit at the top of MCUboot's tree.
[ -f "$MCUBOOT_DIR/root-rsa-2048.pem" ] || die "MCUBOOT_DIR=$MCUBOOT_DIR has no root-rsa-2048.pem: the simulator needs MCUboot's whole tree, not sim/ alone"
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) and try again"
command -v gcc >/dev/null || die "gcc not found: MCUboot's simulator compiles MCUboot's C sources; install gcc (e.g. apt-get install gcc)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found: install GNU time (e.g. apt-get install time)"
[ -f "$campaign" ] || die "campaign $campaign not found"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The CPU seconds (user + system) of a GNU time -v report.
cpu_of() {
    awk -F': ' '/User time \(seconds\)/ {u=$2} /System time \(seconds\)/ {s=$2} END {printf "%.2f", u + s}' "$1"
}
peak_of() {
    awk -F': ' '/Maximum resident set size/ {printf "%d", $2 / 1024}' "$1"
}

features=()
[ -n "${MCUBOOT_FEATURES:-}" ] && features=(--features "$MCUBOOT_FEATURES")

echo "== building MCUboot's simulator (release${MCUBOOT_FEATURES:+, features $MCUBOOT_FEATURES})"
(cd "$MCUBOOT_DIR/sim" && cargo test --release "${features[@]}" --test core --no-run) >&2 \
    || die "MCUboot's simulator did not build (see above; a checkout inside another cargo workspace needs an empty [workspace] table at the end of its sim/Cargo.toml)"

echo "== building cutpoint (release)"
(cd "$here" && cargo build --release -p cutpoint) >&2 || die "cutpoint did not build (see above)"
target_dir="$(cd "$here" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
cutpoint="${target_dir:-$here/target}/release/cutpoint"
[ -x "$cutpoint" ] || die "no cutpoint binary at $cutpoint"

# One cutpoint run is well under a second of CPU, so it is run several times (CUTPOINT_RUNS,
# default 6), half before MCUboot's run and half after, in the same window; the median counts.
runs="${CUTPOINT_RUNS:-6}"
[ "$runs" -ge 1 ] 2>/dev/null || die "CUTPOINT_RUNS=$runs is not a positive number of runs"
cutpoint_once() {
    local i="$1"
    rm -rf "$work/run"
    /usr/bin/time -v -o "$work/cutpoint-$i.time" "$cutpoint" run "$campaign" --out "$work/run" --message-format json \
        >"$work/cutpoint.log" 2>"$work/cutpoint.err" || { trap - EXIT; die "cutpoint run failed; its output: $work/cutpoint.log, $work/cutpoint.err"; }
    echo "   cutpoint run $i: $(cpu_of "$work/cutpoint-$i.time") s CPU, load $(cut -d' ' -f1 /proc/loadavg)"
}

echo "== cutpoint: $(basename "$campaign"), $(( (runs + 1) / 2 )) runs before MCUboot's"
for i in $(seq 1 $(( (runs + 1) / 2 ))); do cutpoint_once "$i"; done

echo "== MCUboot: perm_with_fails (load $(cut -d' ' -f1 /proc/loadavg))"
(cd "$MCUBOOT_DIR/sim" && RUST_LOG=info /usr/bin/time -v -o "$work/mcuboot.time" \
    cargo test --release "${features[@]}" --test core -- --exact perm_with_fails --nocapture --test-threads 1) \
    >"$work/mcuboot.log" 2>&1 || { trap - EXIT; die "MCUboot's perm_with_fails failed; its output: $work/mcuboot.log"; }
mcuboot_cuts=$(grep -c "Try interruption at" "$work/mcuboot.log" || true)
[ "${mcuboot_cuts:-0}" -gt 0 ] || { trap - EXIT; die "MCUboot's log shows no \"Try interruption at\" line (is its log level info?); log: $work/mcuboot.log"; }
echo "   MCUboot: $(cpu_of "$work/mcuboot.time") s CPU, load $(cut -d' ' -f1 /proc/loadavg)"

echo "== cutpoint: $(( runs / 2 )) runs after MCUboot's"
for i in $(seq $(( (runs + 1) / 2 + 1 )) "$runs"); do cutpoint_once "$i"; done
# The last JSON event: {"type":"end", ..., "run": N, ...}.
cutpoint_cuts=$(grep '"type":"end"' "$work/cutpoint.log" | sed -n 's/.*"run":\([0-9]*\).*/\1/p' | tail -1)
[ "${cutpoint_cuts:-0}" -gt 0 ] || { trap - EXIT; die "could not count cutpoint's cut points in $work/cutpoint.log"; }
# The median run's CPU time report stands for cutpoint.
median=$(for i in $(seq 1 "$runs"); do echo "$(cpu_of "$work/cutpoint-$i.time") $i"; done | sort -n | awk '{a[NR]=$2} END {print a[int((NR + 1) / 2)]}')
cp "$work/cutpoint-$median.time" "$work/cutpoint.time"

mc=$(cpu_of "$work/mcuboot.time"); cc=$(cpu_of "$work/cutpoint.time")
printf '\n%-34s %14s %14s\n' "" "MCUboot sim" "cutpoint"
printf '%-34s %14s %14s\n' "cut points" "$mcuboot_cuts" "$cutpoint_cuts"
printf '%-34s %14s %14s\n' "CPU seconds (user + system)" "$mc" "$cc (median of $runs)"
printf '%-34s %14s %14s\n' "peak memory (MiB)" "$(peak_of "$work/mcuboot.time")" "$(peak_of "$work/cutpoint.time")"
awk -v mn="$mcuboot_cuts" -v mc="$mc" -v cn="$cutpoint_cuts" -v cc="$cc" 'BEGIN {
    m = (mc > 0) ? mn / mc : 0; c = (cc > 0) ? cn / cc : 0;
    printf "%-34s %14.0f %14.0f\n", "cut points per CPU second", m, c;
    if (m > 0) printf "%-34s %14s %13.1fx\n", "cutpoint / MCUboot", "", c / m;
}'
