#!/usr/bin/env bash
# The whole training recipe, end to end and resumable: fetch data → prepare → train → export.
#   bash training/run.sh [ARCH] [MINUTES] [HIDDEN]     (defaults: gru 105 128)
# Checkpoints, history.json and train.log go to training/checkpoints/ARCH, which is committed:
# re-running continues from the last checkpoint, on this machine or any other.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:-gru}"
minutes="${2:-105}"
hidden="${3:-128}"
py=/usr/bin/python3
out="training/checkpoints/$arch"
mkdir -p "$out"
bash training/fetch_data.sh
[ -f .cache/prepared/manifest.json ] || $py training/prepare_data.py
$py training/train.py --arch "$arch" --hidden "$hidden" --minutes "$minutes" --out "$out" 2>&1 | tee -a "$out/train.log"
$py training/export.py --checkpoint "$out/best.pt" --out "models/quell-$arch" --mask-gain auto
echo "exported models/quell-$arch.{onnx,json,golden.bin}; add it to models/index.json and run npm run eval"
