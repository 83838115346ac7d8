#!/usr/bin/env bash
# Runs every benchmark in one go and leaves the results in bench/results/.
#   bash bench/run.sh               all
#   bash bench/run.sh engine redis  some
# Engine microbenchmarks need nothing; the end-to-end ones start the backends (scripts/backends.sh) and
# compare direct, the anchor proxy (PgBouncer / twemproxy) and dgf in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
what=("${@:-engine postgres redis mongodb azure}")
for b in ${what[*]}; do
  case "$b" in
    engine)
      for f in bench/engine/*.bench.ts; do
        echo "== $f"
        node --import tsx "$f" | tee "bench/results/engine-$(basename "$f" .bench.ts).json"
      done
      ;;
    *)
      bash scripts/backends.sh start
      if [ -x "bench/$b/run.sh" ] || [ -f "bench/$b/run.sh" ]; then
        echo "== bench/$b/run.sh"; bash "bench/$b/run.sh"
      else
        for f in bench/"$b"/*.bench.ts; do [ -f "$f" ] && { echo "== $f"; node --import tsx "$f"; }; done
      fi
      ;;
  esac
done
