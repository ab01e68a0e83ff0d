#!/usr/bin/env bash
# Publishes a self-contained, trimmed `eagle` for linux-x64 that carries no libtorch of its own, to run on a GPU machine
# over an existing PyTorch's libtorch (EAGLE_LIBTORCH_DIR=.../site-packages/torch/lib), plus check.sh and reference.py,
# and packs it as <output-dir>.tgz. Needs the .NET 10 SDK (and the NuGet feed for the linux-x64 runtime pack).
# Usage: bash tools/gpu/publish.sh [output-dir]        (default: artifacts/eagle-linux-x64)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(realpath -m "${1:-$root/artifacts/eagle-linux-x64}")
limit_mb=40

rm -rf "$out" "$out.tgz"
# EagleTorchBackend=none: managed TorchSharp only (its libLibTorchSharp.so, none of libtorch), because .NET loads
#   native libraries from the app folder first and a CPU libtorch there would shadow the CUDA one (TORCHSHARP.md §4).
# TrimMode=partial trims only assemblies marked trimmable, so TorchSharp and the engine stay whole.
# JsonSerializerIsReflectionEnabledByDefault: trimmed apps turn reflection-based System.Text.Json off by default, and
#   config.json and the commands' --json output use it (the engine's own assembly is not trimmed, so it still works).
# EnableTrimAnalyzer/SuppressTrimAnalysisWarnings: the trim analyzers flag that reflection-based JSON, and warnings are
#   errors in this repo; with the assemblies that use it kept whole the warnings do not apply (the smoke run after
#   publishing exercises config.json and --json).
dotnet publish "$root/src/Eagle.Cli" -c Release -r linux-x64 --self-contained -o "$out" \
  -p:EagleTorchBackend=none -p:PublishTrimmed=true -p:TrimMode=partial -p:InvariantGlobalization=true \
  -p:JsonSerializerIsReflectionEnabledByDefault=true -p:EnableTrimAnalyzer=false -p:SuppressTrimAnalysisWarnings=true \
  -p:DebugType=none -v minimal

if compgen -G "$out/libtorch*" >/dev/null || compgen -G "$out/libc10*" >/dev/null || [ -d "$out/runtimes" ]; then
  echo "publish.sh: libtorch files ended up in $out; they would shadow the GPU machine's libtorch" >&2
  exit 1
fi
lts="$out/libLibTorchSharp.so"
[ -f "$lts" ] || { echo "publish.sh: $lts missing" >&2; exit 1; }
# build/Eagle.NativeFix.targets weakens GLIBCXX_3.4.32 after Publish, but only when this host's libstdc++ lacks it.
if command -v readelf >/dev/null && readelf -V "$lts" | grep -q 'GLIBCXX_3.4.32  Flags: none'; then
  echo "publish.sh: warning: $lts still requires GLIBCXX_3.4.32 (this host has it, so it was not weakened);" \
       "it will not load where libstdc++ is older (Debian 12, Ubuntu 22.04)" >&2
fi

cp "$root/tools/gpu/check.sh" "$root/tools/gpu/reference.py" "$out/"
tar -C "$(dirname "$out")" -czf "$out.tgz" "$(basename "$out")"
bytes=$(stat -c %s "$out.tgz")
echo "published $out ($(du -sm "$out" | cut -f1) MB); packed $out.tgz: $((bytes / 1024 / 1024)) MB ($bytes bytes)"
if [ "$bytes" -ge $((limit_mb * 1024 * 1024)) ]; then
  echo "publish.sh: $out.tgz is not under $limit_mb MB" >&2
  exit 1
fi
