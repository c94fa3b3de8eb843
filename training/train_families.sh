#!/usr/bin/env bash
# Train the other streaming families with the same recipe and data, side by side (one thread
# each), then export them: a vanilla RNN, an LSTM and a causal dilated CNN. MINUTES counts
# compute time per model, so three models on two cores take longer on the clock.
#   bash training/train_families.sh [MINUTES]        (default 45)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-45}"
py=/usr/bin/python3
bash training/fetch_data.sh
[ -f .cache/prepared/speech_val.pkl ] || $py training/prepare_data.py
for arch in rnn lstm cnn; do
  mkdir -p "training/checkpoints/$arch"
  $py training/train.py --arch "$arch" --hidden 128 --minutes "$minutes" --threads 1 --out "training/checkpoints/$arch" >> "training/checkpoints/$arch/train.log" 2>&1 &
done
wait
for arch in rnn lstm cnn; do
  $py training/export.py --checkpoint "training/checkpoints/$arch/best.pt" --out "models/quell-$arch"
done
