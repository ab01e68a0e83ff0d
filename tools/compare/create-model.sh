#!/usr/bin/env bash
# Writes the random model the comparison runs on: a Hugging Face folder (config.json + model.safetensors) of a
# LlamaPresets shape in bfloat16, from Eagle's own CLI, so every engine reads the very same weights.
#
# usage: tools/compare/create-model.sh [DIR] [PRESET]    (defaults: <repo>/.cache/compare/llama3-1b-bf16, llama3-1b)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
preset="${2:-llama3-1b}"
dir="${1:-$repo_root/.cache/compare/$preset-bf16}"

if [[ -s "$dir/model.safetensors" && -s "$dir/config.json" ]]; then
    echo "model already present: $dir"
    exit 0
fi
command -v dotnet >/dev/null || { echo "error: dotnet not found (the .NET 10 SDK builds Eagle's CLI)" >&2; exit 1; }

# Written beside the destination and renamed, so an interrupted run never leaves a folder that looks complete.
staging="$dir.partial.$$"
trap 'rm -rf "$staging"' EXIT
dotnet run --project "$repo_root/src/Eagle.Cli" -c Release -v quiet -- create-test-model "$staging" --preset "$preset" --dtype bfloat16 --seed 1
rm -rf "$dir"
mv -T "$staging" "$dir"
echo "model written: $dir"
