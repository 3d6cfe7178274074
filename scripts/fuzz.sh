#!/usr/bin/env bash
# Coverage-guided fuzzing of payrail's parsers with AFL++ on the stable toolchain (`cargo afl`).
#
# Installs cargo-afl (which builds its AFL++ runtime for this rustc) if missing, builds the
# targets in fuzz/ with instrumentation, runs each for FUZZ_SECONDS (default 60) from its seed
# corpus in fuzz/corpus/<target>/, and prints one line per target: executions, paths found,
# crashes. Findings stay in fuzz/out/<target>/ (ignored by git); a crash is a bug: reproduce it
# with `fuzz/target/release/<target> < fuzz/out/<target>/default/crashes/<file>` and turn it into a
# regression test in the normal suite. Exits 1 if any target crashed.
#
#   scripts/fuzz.sh                               # all targets, 60 s each
#   FUZZ_SECONDS=10 scripts/fuzz.sh jwt           # some targets, shorter
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
all_targets="create_body webhook_stripe webhook_paystack webhook_flutterwave webhook_paypal jwt idempotency"
targets=${*:-$all_targets}

if ! cargo afl --version >/dev/null 2>&1; then
    echo "installing cargo-afl (crates.io)..."
    cargo install cargo-afl --locked
fi
# Builds the AFL++ runtime for the current rustc; a no-op (with a complaint) when already built.
cargo afl config --build >/dev/null 2>&1 || true

cd "$root/fuzz"
cargo afl build --release

# Containers rarely let AFL++ tune the CPU governor or the core dump handler; neither matters
# for finding crashes of a Rust target (panics abort the process, AFL++ sees the signal).
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1

mkdir -p out
crashed=0
printf '%-22s %12s %8s %8s\n' target executions paths crashes
for target in $targets; do
    out="out/$target"
    rm -rf "$out"
    cargo afl fuzz -V "$seconds" -i "corpus/$target" -o "$out" "target/release/$target" >"out-$target.log" 2>&1 || {
        echo "afl-fuzz failed for $target; see fuzz/out-$target.log" >&2
        tail -20 "out-$target.log" >&2
        exit 2
    }
    stats="$out/default/fuzzer_stats"
    value() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
    crashes=$(value saved_crashes)
    printf '%-22s %12s %8s %8s\n' "$target" "$(value execs_done)" "$(value corpus_count)" "$crashes"
    if [ "${crashes:-0}" != 0 ]; then
        crashed=1
    fi
    mv "out-$target.log" "$out/afl-fuzz.log"
done
exit $crashed
