# Sourced by bench/postgres/ab.sh and bench/redis/ab.sh: the checkout of one side of an A/B. Needs ROOT.
# checkout REF DIR -> prints the directory to run dgf from: ROOT itself for WORKTREE, else a detached git worktree of
# REF at DIR sharing ROOT's node_modules, with its own native addons built (scripts/build-native.sh, where the commit
# has it): without them a side would seal its audit in JavaScript and the A/B would measure that instead.
checkout() {
  if [ "$1" = WORKTREE ]; then echo "$ROOT"; return; fi
  git -C "$ROOT" worktree add --detach "$2" "$1" >/dev/null 2>&1
  ln -s "$ROOT/node_modules" "$2/node_modules"
  if [ -f "$2/scripts/build-native.sh" ]; then (cd "$2" && bash scripts/build-native.sh >/dev/null 2>&1) || true; fi
  echo "$2"
}
