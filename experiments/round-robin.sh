# Sourced by experiments/gan-train.sh and hart-train.sh: trains models round-robin in equal
# slices of iterations, so that stopping at any round leaves them with the same budget.
#   train_round_robin RUNS PUBLISHED ROUNDS STEP NAME=METHOD ... -- TRAIN-OPTION ...
# Each model's state lives in RUNS/NAME; a call resumes where the last one stopped and skips the
# slices already done; a file RUNS/STOP ends it before its next round. A model with no state in
# RUNS starts from its published weights (a fresh optimiser; the card's `initialised_from` says
# so): PUBLISHED/campaign/NAME/last, a run in progress published at the end of a session, else
# PUBLISHED/NAME/last, the board's; PUBLISHED empty starts it from scratch. ROUNDS counts from
# the first round, so a resumed call with ROUNDS at or below the rounds done trains nothing.
# Each slice starts `trackbench train` afresh: run a long campaign from a checkout that does not
# change under it (`git worktree add ../train-tree <commit>`, its `trackbench` first on PATH).
train_round_robin() {
  local runs=$1 published=$2 rounds=$3 step=$4
  shift 4
  local models=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do models+=("$1"); shift; done
  shift  # the --; the rest are `trackbench train` options
  export OMP_NUM_THREADS=1
  local round model name method out from start done_ init
  for round in $(seq 1 "$rounds"); do
    [ -e "$runs/STOP" ] && { echo "$runs/STOP: stopped before round $round"; return 0; }
    for model in "${models[@]}"; do
      name=${model%%=*} method=${model#*=} out=$runs/${model%%=*}
      mkdir -p "$out"
      from=$out init=()
      if [ ! -e "$out/last.json" ] && [ -n "$published" ]; then
        for start in "$published/campaign/$name" "$published/$name"; do
          [ -e "$start/last.json" ] && { from=$start init=(--init-from "$start/last"); break; }
        done
      fi
      done_=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["iterations"])' \
        "$from/last.json" 2>/dev/null || echo 0)
      [ "$done_" -lt $((round * step)) ] || continue  # this round's slice is done already
      trackbench train "$method" --out "$out" --resume "${init[@]}" "$@" \
        --iterations $((round * step)) --validate-every "$step" > "$out.log.json" 2>&1 \
        || { cat "$out.log.json" >&2; return 1; }
      echo "$(date -u +%H:%M:%S) $name $((round * step))"
    done
  done
}
