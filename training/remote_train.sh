#!/usr/bin/env bash
# Train several runs at once (by default the four families, fine-tuned) on a lent GPU machine
# that has nothing but its own image (PyTorch, no network), from a pack of the data
# (pack_data.py) and each run's starting weights (PACK/init/NAME.pt). Every 30 s each run's
# folder is copied into OUT as NAME.tar, so a run cut off by the machine's time limit still
# brings back its last checkpoints.
#   bash training/remote_train.sh PACK OUT MINUTES [RECIPE...]      (PYTHON: the python3 that has torch)
# PACK may be the parts of one pack (pack_data.py --part K/N), comma-separated: PART1,PART2,...
# RECIPE: train.py options for every run, e.g. --snr -10 20 --sdr-weight 0.03 (models/README.md).
# RUNS (default "gru lstm rnn cnn"): the runs, each named FAMILY or FAMILY-SOMETHING; a run starts
# from PACK/init/NAME.pt when the pack has it, else from random weights at the first-training rate.
# WORKERS: mixing processes per run (default: each family's own, below).
set -uo pipefail
pack=$1 out=$2 minutes=$3
shift 3
cache=/tmp/quell-cache runs=/tmp/quell-runs
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
recipe=(--threads 1 --minutes "$minutes" "$@")
read -ra runs_named <<< "${RUNS:-gru lstm rnn cnn}"
# fine-tuning rates: from trained weights, higher rates undid what the GRU had learned, and the
# LSTM lost what it knew at 3e-4 in 16-item batches
declare -A options=(
  [gru]="--lr 1e-4 --batch 64 --workers 5"
  [lstm]="--lr 1e-4 --batch 32 --workers 3"
  [rnn]="--lr 1e-4 --batch 32 --workers 3"
  [cnn]="--lr 2e-4 --batch 32 --workers 2"
)
for name in "${runs_named[@]}"; do  # every name checked before any run starts
  if [ -z "${options[${name%%-*}]:-}" ]; then echo "RUNS: $name is not a family's run (gru, lstm, rnn, cnn)" >&2; exit 1; fi
done
IFS=, read -ra parts <<< "$pack"
"$py" training/unpack_data.py "${parts[@]}" "$cache" || exit 1
export QUELL_CACHE=$cache PYTHONUNBUFFERED=1 TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
for name in "${runs_named[@]}"; do
  arch=${name%%-*}
  start=(--lr 1e-3)
  for part in "${parts[@]}"; do [ -f "$part/init/$name.pt" ] && start=(--init "$part/init/$name.pt"); done
  mkdir -p "$runs/$name"
  # shellcheck disable=SC2086  # the options are words; a later --lr or --workers overrides an earlier one
  "$py" training/train.py --arch "$arch" --out "$runs/$name" "${recipe[@]}" ${options[$arch]} "${start[@]}" \
    ${WORKERS:+--workers $WORKERS} > "$runs/$name/train.log" 2>&1 &
done
collect() {
  for name in "${runs_named[@]}"; do
    tar -cf "$out/$name.tar.part" -C "$runs" --exclude '*.part' "$name" && mv "$out/$name.tar.part" "$out/$name.tar"
  done
}
while [ -n "$(jobs -r)" ]; do
  sleep 30
  collect
  for name in "${runs_named[@]}"; do echo "$name: $(tail -n1 "$runs/$name/train.log")"; done
done
collect
