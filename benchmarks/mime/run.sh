#!/usr/bin/env bash
# MIME parsing throughput: MailMessage (Swift, release) vs Python's email package
# (policy.default) vs fast-mail-parser, on the same seeded corpus, one core each.
# Usage: benchmarks/mime/run.sh [COUNT] [SEED] [ROUNDS]
set -euo pipefail
count="${1:-2000}"
seed="${2:-20261123}"
rounds="${3:-3}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${BENCH_WORK_DIR:-$root/.build/bench-mime}"
corpus="$work/corpus-$count-$seed"
mkdir -p "$work"

python3 -c "import fast_mail_parser" 2>/dev/null || python3 -m pip install --quiet fast-mail-parser

if [ ! -d "$corpus" ]; then
    python3 "$here/gen_corpus.py" "$corpus.tmp" "$count" "$seed"
    mv "$corpus.tmp" "$corpus"
fi

# The runner is a SwiftPM target (mailroom-bench-mime) so that it can link swift-crypto,
# the SHA-256 `mailroom` hands MailMessage for attachment digests.
build="${BENCH_BUILD_DIR:-$root/.build-bench-mime}"
(cd "$root" && swift build -c release --scratch-path "$build" --product mailroom-bench-mime >&2)
runner="$build/release/mailroom-bench-mime"

# The same corpus without its attachment-carrying messages (every file under 20 KB): the
# small-message case that dominates a help desk's inbox.
small="$corpus-small"
if [ ! -d "$small" ]; then
    mkdir -p "$small.tmp"
    find "$corpus" -name '*.eml' -size -20k -exec cp {} "$small.tmp/" \;
    mv "$small.tmp" "$small"
fi

core="${BENCH_CORE:-0}"
echo "corpus: $count messages, seed $seed, $(du -sh "$corpus" | cut -f1); best of $rounds passes in CPU time; core $core"
for mode in full nohash small; do
    dir="$corpus"
    if [ "$mode" = small ]; then dir="$small"; echo "mode: small ($(ls "$small" | wc -l) messages under 20 KB, no attachments; attachment hashing on)"; fi
    if [ "$mode" = full ]; then echo "mode: full (attachment SHA-256 computed by all; MailMessage with swift-crypto as in mailroom, and with its portable SHA-256)"; fi
    if [ "$mode" = nohash ]; then echo "mode: nohash (no attachment hashing in any of the three)"; fi
    hash="$mode"; [ "$mode" = small ] && hash=full
    {
        if [ "$hash" = full ]; then
            taskset -c "$core" "$runner" "$dir" "$rounds" crypto
            taskset -c "$core" "$runner" "$dir" "$rounds" portable
        else
            taskset -c "$core" "$runner" "$dir" "$rounds" nohash
        fi
        taskset -c "$core" python3 "$here/bench_python.py" email "$dir" "$rounds" "$hash"
        taskset -c "$core" python3 "$here/bench_python.py" fast-mail-parser "$dir" "$rounds" "$hash"
    } | awk '{ printf "  %-22s %8d msgs %9.3f s %10.0f msg/s %8.1f MB/s  %s\n", $1, $2, $3, $2/$3, $4/$3/1e6, $5 }'
done
