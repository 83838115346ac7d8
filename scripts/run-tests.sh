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
exec node --import tsx --test --test-concurrency="${DGF_TEST_CONCURRENCY:-2}" --test-timeout=180000 "${files[@]}"
