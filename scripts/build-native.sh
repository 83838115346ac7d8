#!/usr/bin/env bash
# Build dgf's native addons with npm's own node-gyp, against the headers of the Node that runs dgf (no download):
#   src/audit/native    the audit sealer (see seal.c for why it exists)
#   src/runtime/native  malloc_trim for returning freed memory (see trim.c)
# dgf works without them (seal-batch.ts seals in JS, slower; without trim RSS keeps past peaks): where no C
# toolchain or headers exist this warns and exits 0, unless DGF_REQUIRE_NATIVE=1 (CI), which makes a failed build
# an error.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

fail() {
  if [[ "${DGF_REQUIRE_NATIVE:-}" == 1 ]]; then
    echo "build-native: $1" >&2
    exit 1
  fi
  echo "build-native: $1; dgf will run without its native addons (audit sealing in JavaScript, slower; no malloc_trim)" >&2
  exit 0
}

node_bin=$(readlink -f "$(command -v node)")
node_prefix=$(dirname "$(dirname "$node_bin")")
[[ -f "$node_prefix/include/node/node_api.h" ]] || fail "no Node headers under $node_prefix/include/node"
gyp=${npm_config_node_gyp:-}
if [[ -z "$gyp" || ! -f "$gyp" ]]; then
  npm_bin=$(readlink -f "$(command -v npm)" 2>/dev/null || true)
  gyp="$(dirname "$(dirname "$npm_bin")")/node_modules/node-gyp/bin/node-gyp.js"
fi
[[ -f "$gyp" ]] || fail "npm's node-gyp not found"
command -v make >/dev/null && command -v cc >/dev/null || fail "no C compiler or make"

# directory under src/ : addon name
for addon in audit:seal runtime:trim; do
  dir=${addon%%:*}
  name=${addon##*:}
  log=$(mktemp)
  if ! (cd "$root/src/$dir/native" && node "$gyp" rebuild --nodedir="$node_prefix") >"$log" 2>&1; then
    tail -20 "$log" >&2
    rm -f "$log"
    fail "node-gyp could not build src/$dir/native/$name.node"
  fi
  rm -f "$log"
  # The compiled tree (dist/) loads it from beside the module that uses it.
  if [[ -d "$root/dist/src/$dir" ]]; then
    mkdir -p "$root/dist/src/$dir/native"
    cp "$root/src/$dir/native/build/Release/$name.node" "$root/dist/src/$dir/native/$name.node"
  fi
done
