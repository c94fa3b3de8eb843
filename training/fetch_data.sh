#!/usr/bin/env bash
# Fetch the Debian packages that hold Quell's training audio (see ../shared/DATA.md) and
# unpack them into an ignored cache. No root-wide install: apt-get download + dpkg -x.
#   bash training/fetch_data.sh [PACKAGE...]     (default: every package below)
set -euo pipefail
cache="${QUELL_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache}"
mkdir -p "$cache/debs" "$cache/pkgs"
cd "$cache/debs"
# Smallest first, so a slow link still gets the speech early. The big game-data packages
# (0ad, flightgear, redeclipse, widelands) hold ambience and machine noise.
packages=(
  fillets-ng-data-nl fillets-ng-data klettres-data bucklespring-data sonic-pi-samples
  kajongg gcin-voice asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722
  asterisk-core-sounds-fr-g722 asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722
  ufoai-sound ktuberling-data warzone2100-data hedgewars-data tuxpaint-stamps-default
  festvox-ru megaglest-data nexuiz-data widelands-data redeclipse-data
  0ad-data flightgear-data-base
)
[ $# -gt 0 ] && packages=("$@")
for p in "${packages[@]}"; do
  if [ -f "$cache/pkgs/$p.done" ]; then continue; fi
  ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p" \
    || { apt-get update -q >/dev/null && apt-get download "$p"; }
  mkdir -p "$cache/pkgs/$p"
  dpkg -x ${p}_*.deb "$cache/pkgs/$p"
  rm -f ${p}_*.deb   # the unpacked tree is what the recipe reads
  touch "$cache/pkgs/$p.done"
  echo "unpacked $p"
done
echo "audio packages unpacked under $cache/pkgs"
