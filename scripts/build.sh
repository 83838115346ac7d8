#!/usr/bin/env bash
# Compile to dist/ and copy the runtime data files tsc does not emit (the Redis command table); build the native
# addons (optional, see build-native.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
cp protocols/redis/commands.json dist/protocols/redis/commands.json
# The package's bin (`npx dgf`): tsc writes files without the execute bit.
chmod +x dist/src/cli/main.js
bash scripts/build-native.sh
