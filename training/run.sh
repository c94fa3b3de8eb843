#!/usr/bin/env bash
# The whole training recipe, end to end and resumable: fetch data → prepare → train → export.
#   bash training/run.sh [ARCH] [MINUTES] [HIDDEN]     (defaults: gru 105 128)
# Re-running continues from the last checkpoint in .cache/train/ARCH; logs go there too.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:-gru}"
minutes="${2:-105}"
hidden="${3:-128}"
py=/usr/bin/python3
mkdir -p ".cache/train/$arch"
bash training/fetch_data.sh
[ -f .cache/prepared/speech_val.pkl ] || $py training/prepare_data.py
$py training/train.py --arch "$arch" --hidden "$hidden" --minutes "$minutes" 2>&1 | tee -a ".cache/train/$arch/train.log"
$py training/export.py --checkpoint ".cache/train/$arch/best.pt" --out "models/quell-$arch"
echo "exported models/quell-$arch.{onnx,json,golden.bin}; add it to models/index.json and run npm run eval"
