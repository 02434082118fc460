#!/usr/bin/env bash
# Installs the official Bluesky PDS (npm @atproto/dev-env: the PDS and a PLC directory) that
# test/pds.bluesky.test.ts publishes to. It runs on Node 22 only, its better-sqlite3 compiles with node-gyp
# (no prebuilt binary is reachable here) against Node 22's headers, and it is about 500 MB: so it lives in a
# cache folder named by a hash of test/peers/bluesky/package.json + package-lock.json, outside the work tree
# (CI clones afresh each run), and test/peers/bluesky/node_modules is a link to it. A machine that has it
# already pays nothing; a fresh one pays the install (about 3 min on 2 cores).
# Never fails the caller: the test skips, saying why, when the PDS is not installed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
peer="$root/test/peers/bluesky"
NODE_BIN=$("$root/scripts/node22.sh") || { echo "install-bluesky-pds: no Node 22, the Bluesky PDS test will skip" >&2; exit 0; }
export PATH="$NODE_BIN:$PATH"
# The node-linux-<arch> package holds bin/node and include/node: node-gyp builds against those headers.
export npm_config_nodedir="$(dirname "$NODE_BIN")"
hash=$(cat "$peer/package.json" "$peer/package-lock.json" 2>/dev/null | sha256sum | cut -c1-12)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/crier/bluesky-pds-$hash"
link="$peer/node_modules"
ready() { [ -f "$cache/.installed" ] && [ -d "$cache/node_modules/@atproto/dev-env" ]; }
if ! ready; then
  start=$(date +%s)
  echo "install-bluesky-pds: installing @atproto/dev-env into $cache (Node $(node -v))" >&2
  rm -rf "$cache" && mkdir -p "$cache"
  cp "$peer/package.json" "$cache/"
  [ -f "$peer/package-lock.json" ] && cp "$peer/package-lock.json" "$cache/"
  if [ -f "$cache/package-lock.json" ]; then cmd=(npm ci); else cmd=(npm install); fi
  if ! (cd "$cache" && "${cmd[@]}" --no-audit --no-fund --loglevel=error >&2); then
    echo "install-bluesky-pds: npm failed; the Bluesky PDS test will skip" >&2
    rm -rf "$cache"
    exit 0
  fi
  # better-sqlite3 must load under Node 22 (a binary built for another ABI fails only at run time).
  if ! (cd "$cache" && node -e "new (require('better-sqlite3'))(':memory:').close()" >&2); then
    echo "install-bluesky-pds: better-sqlite3 does not load on Node 22; the Bluesky PDS test will skip" >&2
    rm -rf "$cache"
    exit 0
  fi
  # A first install (no lock file yet) leaves the lock it resolved beside package.json, to commit.
  # The cache is then named by the hash with that lock, so the next run finds it.
  if [ ! -f "$peer/package-lock.json" ]; then
    cp "$cache/package-lock.json" "$peer/"
    hash=$(cat "$peer/package.json" "$peer/package-lock.json" | sha256sum | cut -c1-12)
    named="${XDG_CACHE_HOME:-$HOME/.cache}/crier/bluesky-pds-$hash"
    rm -rf "$named" && mv "$cache" "$named" && cache="$named"
  fi
  touch "$cache/.installed"
  echo "install-bluesky-pds: installed in $(( $(date +%s) - start )) s" >&2
fi
if [ "$(readlink "$link" 2>/dev/null)" != "$cache/node_modules" ]; then
  rm -rf "$link"
  ln -s "$cache/node_modules" "$link"
fi
exit 0
