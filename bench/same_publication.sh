#!/usr/bin/env bash
# Behaviour preserved: the worked example, the five-day run and a simulated day publish the same
# bytes on BASE and on the working tree (bench/publication_digest.py lists them; only the manifests'
# code_version is left out). Usage: bench/same_publication.sh BASE_COMMIT [WORKDIR]
set -euo pipefail
base=${1:?usage: bench/same_publication.sh BASE_COMMIT [WORKDIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${2:-$(mktemp -d)}
python=$root/.venv/bin/python
tree=$work/base-tree

rm -rf "$tree"
git -C "$root" worktree add --detach "$tree" "$base" >/dev/null
trap 'git -C "$root" worktree remove --force "$tree"' EXIT
cp -r "$root/target" "$tree/target"                  # the same pom.xml's jars
cp "$root/bench/publication_digest.py" "$tree/bench/" # the one digest, on both sides

(cd "$tree" && PYTHONPATH=$tree "$python" bench/publication_digest.py "$work/base") >"$work/base.txt"
(cd "$root" && PYTHONPATH=$root "$python" bench/publication_digest.py "$work/head") >"$work/head.txt"
echo "$(wc -l <"$work/head.txt") published files compared ($base vs working tree)"
diff "$work/base.txt" "$work/head.txt" && echo "byte-identical"
