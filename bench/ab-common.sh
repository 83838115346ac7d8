# Sourced by bench/postgres/ab.sh and bench/redis/ab.sh: what both A/B scripts do alike. Needs ROOT.
#
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

# median: the median of the numbers on stdin (spaces or lines; the mean of the middle two for an even count).
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# paired_ratio A B: B / A of one round, 0 when A measured nothing.
paired_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.3f", b / a; else print 0 }'; }

# interleaved ROUND MEASURE ARGS... -> the output of `MEASURE ARGS... a`, then of `MEASURE ARGS... b`, one per line;
# A is measured first in odd rounds and B first in even ones, so a slow moment of the shared machine hits both alike.
interleaved() {
  local round=$1 a b
  shift
  if ((round % 2)); then a=$("$@" a); b=$("$@" b); else b=$("$@" b); a=$("$@" a); fi
  printf '%s\n%s\n' "$a" "$b"
}
