#!/usr/bin/env bash
# Prints a directory holding Node 22 (to put first on PATH). Crier targets Node 22 LTS; where the machine's
# Node is older, Node 22 comes from the npm registry package node-linux-<arch> (binary inside the package),
# cached under ~/.cache/crier.
set -euo pipefail
NODE22_VERSION=22.23.3
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -ge 22 ]; then dirname "$(command -v node)"; exit 0; fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "no Node 22 package for $(uname -m); install Node 22 yourself" >&2; exit 1 ;;
esac
dir="${XDG_CACHE_HOME:-$HOME/.cache}/crier/node-$NODE22_VERSION-$arch"
bin="$dir/node_modules/node-linux-$arch/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@$NODE22_VERSION" >&2
fi
echo "$bin"
