#!/usr/bin/env bash
# Train the other streaming families on the default GRU's recipe and data, side by side (one
# thread each), then export them: a vanilla RNN, an LSTM and a causal dilated CNN. MINUTES counts
# compute time per model, so three models on two cores take longer on the clock. Re-running
# continues each run where it stopped. A new run fine-tunes the shipped model of its family.
# The recipe is the default GRU's last (models/README, "Two teachers, by SNR" and "Noise variety"): mixtures at
# -10..30 dB SNR, SI-SDR weight 0.1, noise-alone weight 0.03, rate 1e-4, varied noise (struck
# objects, tones, recast recordings) in 0.3 of noise segments, a noise that starts late after
# another quiet sound in 0.7 of late onsets (models/README, "A new noise after a quiet room"),
# each item's target also taught by the GRU's two teachers, blended by its SNR, so that the
# family table compares families trained alike. The RNN and the LSTM also learn a voice detector
# beside their gains (--vad-weight 0.1, models/README "A voice detector beside the gains"; it
# needs a recurrent layer, so the CNN goes without): a run cannot take it up once started, so
# theirs are new runs fine-tuned from the shipped models. They also read the GRU's voicing view
# and mask above 2 kHz in bands (models/README "A voicing view" and "Bands"), taken up in two runs
# from the shipped models as the GRU's were: ARCH-voicing (--voicing), then from its weights
# ARCH-voicing-bands (--bands), which shipped; a new run now starts from the shipped model, which
# has both (the CNN's graph has neither). Each run's moving average at its end is what ships, not best.pt: validation,
# even with its varied part, does not rank checkpoints as the unseen sources do (models/README).
#   bash training/train_families.sh [MINUTES]        (default 45)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-45}"
py=/usr/bin/python3
teachers=training/checkpoints/gru-blend30
recipe=(--snr -10 30 --sdr-weight 0.1 --noise-weight 0.03 --lr 1e-4 --noise-variety 0.3 --noise-after-quiet 0.7
        --teacher "$teachers/teacher.pt" --low-snr-teacher "$teachers/low-snr-teacher.pt")
bash training/fetch_data.sh
[ -f .cache/prepared/speech_val.pkl ] || $py training/prepare_data.py
declare -A runs out_of  # pid → family; family → its run folder
for arch in rnn lstm cnn; do
  out="training/checkpoints/$arch-voicing-bands" added=(--vad-weight 0.1)
  [ "$arch" = cnn ] && out="training/checkpoints/cnn-variety" added=()
  out_of[$arch]=$out
  mkdir -p "$out"
  start=()
  [ -f "$out/last.pt" ] || start=(--init "models/quell-$arch.pt")
  nice -n 10 $py training/train.py --arch "$arch" --minutes "$minutes" --threads 1 --out "$out" \
    "${recipe[@]}" "${added[@]}" "${start[@]}" >> "$out/train.log" 2>&1 &
  runs[$!]=$arch
done
failed=()
for pid in "${!runs[@]}"; do
  wait "$pid" || failed+=("${runs[$pid]} (${out_of[${runs[$pid]}]}/train.log)")
done
if [ ${#failed[@]} -gt 0 ]; then
  # a run that stopped on an error exports nothing: its family keeps the model it has
  echo "training failed for: ${failed[*]}; no model exported" >&2
  exit 1
fi
for arch in rnn lstm cnn; do
  $py training/export.py --checkpoint "${out_of[$arch]}/last.pt" --averaged --out "models/quell-$arch" --mask-gain auto
done
