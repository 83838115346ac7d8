#!/usr/bin/env bash
# Build the native audit sealer (src/audit/native, see seal.c for why it exists) with npm's own node-gyp,
# against the headers of the Node that runs dgf (no download). dgf works without it (seal-batch.ts has the same
# sealing in JS, slower): where no C toolchain or headers exist this warns and exits 0, unless
# DGF_REQUIRE_NATIVE=1 (CI), which makes a failed build an error.
set -uo pipefail
cd "$(dirname "$0")/../src/audit/native"

fail() {
  if [[ "${DGF_REQUIRE_NATIVE:-}" == 1 ]]; then
    echo "build-native: $1" >&2
    exit 1
  fi
  echo "build-native: $1; dgf will seal audit records in JavaScript (slower)" >&2
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

log=$(mktemp)
if ! node "$gyp" rebuild --nodedir="$node_prefix" >"$log" 2>&1; then
  tail -20 "$log" >&2
  rm -f "$log"
  fail "node-gyp could not build the sealer"
fi
rm -f "$log"
# The compiled tree (dist/) loads it from beside seal-batch.js.
if [[ -d ../../../dist/src/audit ]]; then
  mkdir -p ../../../dist/src/audit/native
  cp build/Release/seal.node ../../../dist/src/audit/native/seal.node
fi
