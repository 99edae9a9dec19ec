#!/usr/bin/env bash
# Fuzz smoke run for CI: builds every target (nightly, AddressSanitizer), seeds the corpora from
# the official vectors and the repo's own vectors/, and runs each target for a short while.
# Fails on any crash, oracle failure, timeout or out-of-memory.
#
#   fuzz/smoke.sh                      # 30 s per target (15 s for the fast parser targets)
#   FUZZ_SMOKE_SECONDS=5 fuzz/smoke.sh # quicker
#   FUZZ_SMOKE_JOBS=1 fuzz/smoke.sh    # one target at a time (default: two at once)
#
# Vectors: $DRACOON_VECTORS if set, else the repository's copy in vectors/official.
# The corpora (fuzz/corpus/) and crash artifacts (fuzz/artifacts/) are git-ignored; a crashing
# input is left in fuzz/artifacts/<target>/ and its log in fuzz/artifacts/<target>.smoke.log.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SMOKE_SECONDS:-30}"
jobs="${FUZZ_SMOKE_JOBS:-2}"
# The slow targets first, so that two jobs finish together.
targets=(workflows private_key stream tamper api_models public_key file_key)
start=$(date +%s)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz smoke: the nightly toolchain is required (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz smoke: installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

echo "fuzz smoke: building ${#targets[@]} targets"
cargo +nightly fuzz build

for t in "${targets[@]}"; do
  DRACOON_FUZZ_SEED="corpus/$t" cargo +nightly fuzz run "$t" 2>/dev/null | grep '^seed:' || {
    echo "fuzz smoke: seeding $t failed" >&2
    exit 1
  }
done
echo "fuzz smoke: built and seeded after $(($(date +%s) - start)) s"

# Targets that run tens of thousands of inputs a second need less time for a smoke run.
seconds_for() {
  case "$1" in
    public_key | file_key | api_models) echo $(((seconds + 1) / 2)) ;;
    *) echo "$seconds" ;;
  esac
}

mkdir -p artifacts
run_one() {
  local t="$1" log="artifacts/$1.smoke.log"
  if cargo +nightly fuzz run "$t" -- -max_total_time="$(seconds_for "$t")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    local execs cov
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | grep -o 'cov: [0-9]* ft: [0-9]*' || true)
    echo "fuzz smoke: $t ok (${execs:-?} executions, ${cov:-no stats})"
  else
    echo "fuzz smoke: $t FAILED; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
}

failed=0
pids=()
names=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for p in "${pids[@]}"; do
  wait "$p" || failed=1
done

echo "fuzz smoke: finished in $(($(date +%s) - start)) s"
exit "$failed"
