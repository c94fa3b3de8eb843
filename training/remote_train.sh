#!/usr/bin/env bash
# Fine-tune all four families at once on a lent GPU machine that has nothing but its own image
# (PyTorch, no network), from a pack of the data (pack_data.py) and each family's starting
# weights (PACK/init/ARCH.pt). Every 30 s each run's folder is copied into OUT as ARCH.tar, so
# a run cut off by the machine's time limit still brings back its last checkpoints.
#   bash training/remote_train.sh PACK OUT MINUTES [RECIPE...]      (PYTHON: the python3 that has torch)
# RECIPE: train.py options for every run, e.g. --snr -10 20 --sdr-weight 0.03 (models/README.md).
set -uo pipefail
pack=$1 out=$2 minutes=$3
shift 3
cache=/tmp/quell-cache runs=/tmp/quell-runs
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
"$py" training/unpack_data.py "$pack" "$cache" || exit 1
export QUELL_CACHE=$cache PYTHONUNBUFFERED=1 TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
recipe=(--threads 1 --minutes "$minutes" "$@")
families=(gru lstm rnn cnn)
# fine-tuning rates: from trained weights, higher rates undid what the GRU had learned, and the
# LSTM lost what it knew at 3e-4 in 16-item batches
declare -A options=(
  [gru]="--lr 1e-4 --batch 64 --workers 5"
  [lstm]="--lr 1e-4 --batch 32 --workers 3"
  [rnn]="--lr 1e-4 --batch 32 --workers 3"
  [cnn]="--lr 2e-4 --batch 32 --workers 2"
)
for arch in "${families[@]}"; do
  mkdir -p "$runs/$arch"
  # shellcheck disable=SC2086  # the options are words
  "$py" training/train.py --arch "$arch" --init "$pack/init/$arch.pt" --out "$runs/$arch" "${recipe[@]}" \
    ${options[$arch]} > "$runs/$arch/train.log" 2>&1 &
done
collect() {
  for arch in "${families[@]}"; do
    tar -cf "$out/$arch.tar.part" -C "$runs" --exclude '*.part' "$arch" && mv "$out/$arch.tar.part" "$out/$arch.tar"
  done
}
while [ -n "$(jobs -r)" ]; do
  sleep 30
  collect
  for arch in "${families[@]}"; do echo "$arch: $(tail -n1 "$runs/$arch/train.log")"; done
done
collect
