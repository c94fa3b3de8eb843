#!/usr/bin/env bash
# Train the other streaming families with the same recipe and data, side by side (one thread
# each), then export them: a vanilla RNN, an LSTM and a causal dilated CNN. MINUTES counts
# compute time per model, so three models on two cores take longer on the clock. Re-running
# continues each run where it stopped. A new run starts from the shipped model of its family
# (train.py --warm-start): the first families had neither level normalisation nor the
# low-delay framing, and warm_start carries what they learned across both changes.
#   bash training/train_families.sh [MINUTES]        (default 45)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-45}"
py=/usr/bin/python3
bash training/fetch_data.sh
[ -f .cache/prepared/speech_val.pkl ] || $py training/prepare_data.py
for arch in rnn lstm cnn; do
  out="training/checkpoints/$arch"
  mkdir -p "$out"
  start=()
  [ -f "$out/last.pt" ] || start=(--warm-start "models/quell-$arch.pt")
  nice -n 10 $py training/train.py --arch "$arch" --hidden 128 --minutes "$minutes" --threads 1 --out "$out" "${start[@]}" >> "$out/train.log" 2>&1 &
done
wait
for arch in rnn lstm cnn; do
  $py training/export.py --checkpoint "training/checkpoints/$arch/best.pt" --out "models/quell-$arch" --mask-gain auto
done
