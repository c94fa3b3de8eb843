#!/usr/bin/env bash
# Fetch the Debian packages that hold Quell's training audio (see ../shared/DATA.md) and
# unpack them into an ignored cache. No root-wide install: apt-get download + dpkg -x.
set -euo pipefail
cache="${QUELL_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache}"
mkdir -p "$cache/debs" "$cache/pkgs"
cd "$cache/debs"
packages=(fillets-ng-data-nl fillets-ng-data klettres-data bucklespring-data sonic-pi-samples)
for p in "${packages[@]}"; do
  if [ -f "$cache/pkgs/$p.done" ]; then continue; fi
  ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p"
  mkdir -p "$cache/pkgs/$p"
  dpkg -x ${p}_*.deb "$cache/pkgs/$p"
  touch "$cache/pkgs/$p.done"
done
echo "audio packages unpacked under $cache/pkgs"
