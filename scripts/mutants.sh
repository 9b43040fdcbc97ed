#!/usr/bin/env bash
# The mutation pass over the firmware under test's reference paths (scope and exclusions, each
# with its reason: .cargo/mutants.toml). Every mutant of `fut` is built and judged by the oracle
# `cargo test -p cutpoint-engine --test mutation_oracle` (the shipped campaigns on the simulated
# board, reference firmware: any cut point that does not pass catches the mutant).
#
#   scripts/mutants.sh                      # the whole pass (every file in scope)
#   scripts/mutants.sh -f firmware-under-test/src/trailer.rs   # part of it (those files only)
#   CUTPOINT_ORACLE=esp-idf/smoke,esp-idf/revert scripts/mutants.sh -f ...   # a smaller oracle
#
# A smaller oracle (the campaigns that reach the files mutated) is faster and can only catch
# fewer mutants: its survivors are checked again with the whole oracle before they are listed.
#
# Extra arguments go to cargo-mutants. Output: target/mutants/<name>/mutants.out (name from
# MUTANTS_NAME, default "all"); the survivors (missed mutants) are written to
# target/mutants/<name>/survivors.txt, and each is looked up in
# firmware-under-test/mutants-survivors.md, where every survivor must have its reason.
#
# Mutants are applied in place, one at a time, in this worktree (the build reuses target/; a
# copy of the tree would rebuild every dependency first). Do not edit firmware-under-test/
# while it runs; if the pass is killed, `git checkout firmware-under-test/src` restores a
# mutated file.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
  echo "mutants.sh: cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
  exit 2
fi
if ! git diff --quiet -- firmware-under-test/src; then
  echo "mutants.sh: firmware-under-test/src has uncommitted changes; commit or restore them first" >&2
  exit 2
fi

# Incremental rebuilds: a mutant changes one file of `fut`, and a whole rebuild of the
# workspace's crates at the dev profile's opt-level takes minutes where an incremental one
# takes seconds (a cargo configuration that turns incremental builds off is overridden here;
# MUTANTS_INCREMENTAL=0 keeps it off). A stale incremental link is caught below.
export CARGO_INCREMENTAL=${MUTANTS_INCREMENTAL:-1}

name=${MUTANTS_NAME:-all}
out=target/mutants/$name
mkdir -p "$out"

# The unmutated baseline, run here: cargo-mutants 27 runs its baseline with the mutated
# package's tests (fut's), not the oracle's package, which has the oracle.
t0=$(date +%s)
if ! cargo test -q -p cutpoint-engine --test mutation_oracle >"$out/baseline.log" 2>&1; then
  echo "mutants.sh: the oracle fails without any mutant; see $out/baseline.log" >&2
  exit 4
fi
base=$(($(date +%s) - t0))
timeout=$((base * 5 > 120 ? base * 5 : 120))

# A run limited with -f/--file examines those files only: cargo-mutants 27 adds the command
# line's files to the config's examine_globs, so such a run reads a copy of the config without
# them (every other key, the exclusions first, still applies).
config=.cargo/mutants.toml
for a in "$@"; do
  case $a in
    -f | --file | --file=*)
      config=$out/mutants.toml
      python3 - .cargo/mutants.toml "$config" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text, n = re.subn(r"(?ms)^examine_globs = \[.*?^\]\n", "", text)
assert n == 1, "examine_globs not found in .cargo/mutants.toml"
open(sys.argv[2], "w").write(text)
PY
      break
      ;;
  esac
done

start=$(date +%s)
status=0
# A mutant that loops while allocating (a download offset that never advances) would take the
# machine's memory before the timeout: cap each process's data segment (RLIMIT_DATA; an
# address-space limit misfires with the allocator's reservations). The compiler and the oracle
# stay far below it; a mutant that hits it aborts and counts as caught.
ulimit -d "${MUTANTS_DATA_KIB:-6291456}"
cargo mutants --config "$config" --in-place -p fut --test-package cutpoint-engine --baseline skip --timeout "$timeout" \
  --build-timeout 600 --output "$out" --no-times "$@" || status=$?
end=$(date +%s)
# cargo-mutants: 0 every mutant caught, 2 some missed, 3 some timed out; 1 and 4 (the oracle
# fails without any mutant) are errors.
case $status in
  0 | 2 | 3) ;;
  *) echo "mutants.sh: cargo-mutants failed (exit $status); see $out/mutants.out/debug.log" >&2; exit "$status" ;;
esac
git diff --quiet -- firmware-under-test/src || {
  echo "mutants.sh: a mutated file was left behind in firmware-under-test/src" >&2
  exit 1
}

m=$out/mutants.out
lines() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }
caught=$(lines "$m/caught.txt")
missed=$(lines "$m/missed.txt")
timeout=$(lines "$m/timeout.txt")
unviable=$(lines "$m/unviable.txt")
tested=$((caught + missed + timeout))

# Excluded: the mutants this run selected (its files and its name filters) that the config's
# exclusions drop: the same listing with and without the config. The name filters (-F, -E)
# are passed to both listings, so a run limited to some mutants counts only their exclusions.
files=()
filters=()
prev=""
for a in "$@"; do
  case $prev in
    -f | --file) files+=(-f "$a") ;;
    -F | --re) filters+=(-F "$a") ;;
    -E | --exclude-re) filters+=(-E "$a") ;;
  esac
  case $a in
    --file=*) files+=(-f "${a#--file=}") ;;
    --re=*) filters+=(-F "${a#--re=}") ;;
    --exclude-re=*) filters+=(-E "${a#--exclude-re=}") ;;
  esac
  prev=$a
done
if [ ${#files[@]} -eq 0 ]; then
  while IFS= read -r g; do files+=(-f "$g"); done < <(python3 -c '
import tomllib
with open(".cargo/mutants.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["examine_globs"]))')
fi
all=$(cargo mutants --list --no-config -p fut "${files[@]}" "${filters[@]}" 2>/dev/null | grep -c . || true)
scoped=$(cargo mutants --list --config "$config" -p fut "${files[@]}" "${filters[@]}" 2>/dev/null | grep -c . || true)
excluded=$((all - scoped))

# A mutant counted unviable must fail to compile. An incremental rebuild at the dev profile's
# opt-level 2 can instead go stale and fail to link the oracle (undefined hidden symbols), and
# every later build with it; cargo-mutants counts those unviable too. They are named here so
# they are run again (remove target/debug/incremental/{fut,cutpoint_*,mutation_oracle}-* first,
# then -F with each name), not taken for mutants that do not build.
stale=0
if [ -f "$m/unviable.txt" ]; then
  while IFS= read -r u; do
    [ -n "$u" ] || continue
    log=$(grep -lF -- "$u" "$m"/log/*.log 2>/dev/null | head -n 1 || true)
    if [ -n "$log" ] && grep -q "undefined hidden symbol" "$log"; then
      echo "not a mutant that does not build (a stale incremental link): $u"
      stale=$((stale + 1))
    fi
  done < "$m/unviable.txt"
fi

cp "${m}/missed.txt" "$out/survivors.txt" 2>/dev/null || : > "$out/survivors.txt"
unaccounted=0
while IFS= read -r s; do
  [ -n "$s" ] || continue
  # Listed by its description and file, without the line and column (they move with edits).
  file=${s%%:*}
  desc=${s#*: }
  if ! grep -F -- "$desc" firmware-under-test/mutants-survivors.md 2>/dev/null | grep -qF -- "${file#firmware-under-test/}"; then
    echo "unaccounted survivor: $s"
    unaccounted=$((unaccounted + 1))
  fi
done < "$out/survivors.txt"

echo
echo "mutation score: caught $((caught + timeout)) of $tested tested (of which $timeout by timeout), missed $missed"
echo "  excluded by .cargo/mutants.toml: $excluded (of $all in its scope), unviable (do not build): $unviable"
if [ "$stale" -gt 0 ]; then
  echo "  of the unviable, $stale failed to link, not to compile: run them again (above)"
fi
if [ "$tested" -gt 0 ]; then
  awk -v c=$((caught + timeout)) -v t=$tested 'BEGIN { printf "  score %.1f %%\n", 100 * c / t }'
fi
python3 - "$m/outcomes.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = {}
for o in d["outcomes"]:
    if "Mutant" not in o["scenario"]:
        continue
    b = sum(p["duration"] for p in o["phase_results"] if p["phase"] == "Build")
    t = sum(p["duration"] for p in o["phase_results"] if p["phase"] == "Test")
    rows.setdefault(o["summary"], []).append((b, t))
for k, v in sorted(rows.items()):
    n = len(v)
    print(f"  {k}: {n}, mean rebuild {sum(x for x, _ in v) / n:.1f} s, mean oracle {sum(y for _, y in v) / n:.1f} s")
PY
echo "  wall time $((end - start)) s"
echo "  survivors: $out/survivors.txt ($unaccounted not yet accounted for in firmware-under-test/mutants-survivors.md)"
[ "$unaccounted" -eq 0 ] && [ "$stale" -eq 0 ]
