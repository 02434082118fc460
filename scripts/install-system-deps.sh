#!/usr/bin/env bash
# System packages the tests need and npm cannot provide: ffmpeg/ffprobe (video probing and transcoding)
# and OpenStack Swift with s3api plus memcached (a real S3-compatible server that checks signatures, for the S3 store's
# tests). Debian packages; installs only what is missing, so a prepared machine pays nothing.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
# heif-enc makes the HEIC (iPhone photo) test fixture.
command -v heif-enc >/dev/null || need+=(libheif-examples)
for bin in swift-proxy-server swift-object-server swift-container-server swift-account-server swift-ring-builder memcached; do
  if ! command -v "$bin" >/dev/null; then
    # s3api's tempauth keeps its state in memcached.
    need+=(swift-proxy swift-object swift-container swift-account python3-swift memcached)
    break
  fi
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
$SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null \
  || { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
echo "installed in $(( $(date +%s) - start )) s" >&2
