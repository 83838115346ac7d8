#!/usr/bin/env bash
# Runs the test suites with Node's built-in runner (Node 20 takes no globs, so the files are listed here).
#   scripts/run-tests.sh            unit, integration and e2e
#   scripts/run-tests.sh unit       one suite
set -euo pipefail
cd "$(dirname "$0")/.."
suites=("${@:-unit integration e2e}")
files=()
for s in ${suites[*]}; do
  while IFS= read -r f; do files+=("$f"); done < <(find "test/$s" -name '*.test.ts' 2>/dev/null | sort)
done
((${#files[@]})) || { echo "no test files found in: ${suites[*]}" >&2; exit 1; }
# The backpressure tests measure other clients' rate while one client reads slowly: they run after everything else,
# one at a time, because a neighbouring test's load on the 2 cores would be measured as dgf's (a MongoDB run beside
# the Postgres one's 400 MB stream measured "others" at 0.42 of their baseline).
alone=()
together=()
for f in "${files[@]}"; do
  if [[ $f == test/integration/backpressure/* ]]; then alone+=("$f"); else together+=("$f"); fi
done
status=0
if ((${#together[@]})); then
  node --import tsx --test --test-concurrency="${DGF_TEST_CONCURRENCY:-2}" --test-timeout=180000 "${together[@]}" || status=$?
fi
if ((${#alone[@]})); then
  node --import tsx --test --test-concurrency=1 --test-timeout=180000 "${alone[@]}" || status=$?
fi
exit "$status"
