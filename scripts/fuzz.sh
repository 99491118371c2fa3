#!/usr/bin/env bash
# Runs every fuzz target of the module in turn, each for FUZZTIME (default
# 1m), and fails when any of them finds a crash (go test then writes the
# input to the package's testdata/fuzz/<Target>/; check it in with the fix).
# `make fuzz FUZZTIME=1m` calls it; FUZZ=regexp picks targets by name.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-1m}"
only="${FUZZ:-.}"

targets=()
while IFS=: read -r file _ line; do
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  [[ "$name" =~ $only ]] || continue
  targets+=("./$(dirname "$file") $name")
done < <(git grep -n -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' -- '*_test.go' | sort)

if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no target matches FUZZ=$only" >&2
  exit 1
fi

failed=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "=== $name ($pkg, $fuzztime)"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"; then
    failed+=("$name ($pkg)")
  fi
done

echo "fuzz targets run: ${#targets[@]}, failed: ${#failed[@]}"
for f in "${failed[@]}"; do echo "FAILED: $f"; done
[ ${#failed[@]} -eq 0 ]
