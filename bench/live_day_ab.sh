#!/bin/bash
# The live-session backlog before and after a change, side by side in one run (docs/benchmarks.md,
# "Second round"): the same bench/live_day.py in two checkouts, each with its own broker and work
# folder, then the "after" checkout at 100,000 accounts. Each checkout needs `make env jars` first.
#
#   BEFORE=/path/to/checkout-before AFTER=/path/to/checkout-after bench/live_day_ab.sh
set -euo pipefail
: "${BEFORE:?a checkout of the commit before}" "${AFTER:?a checkout of the commit after}"
for tree in "$BEFORE" "$AFTER"; do
  work=/tmp/live-ab-$(basename "$tree")
  rm -rf "$work"
  (cd "$tree" && .venv/bin/python bench/live_day.py --accounts 20000 --trades 50000 --no-paced --work "$work")
  du -sh "$work"/stream/*/checkpoints/savepoints/*  # the final savepoint: the job's state
done
work=/tmp/live-ab-100000
rm -rf "$work"
(cd "$AFTER" && .venv/bin/python bench/live_day.py --accounts 100000 --trades 50000 --no-paced --work "$work")
du -sh "$work"/stream/*/checkpoints/savepoints/*
