#!/usr/bin/env bash
# bgpod convergence benchmark: bgpod vs BIRD 2 vs the raw kernel, run by hand, as root:
#
#   sudo bench/run.sh                                  # N = 10k, 100k, 1M; raw, BIRD, bgpod
#   sudo bench/run.sh --sizes 100k --repeat 3          # median of three runs
#   sudo bench/run.sh --targets raw,bird --markdown /tmp/table.md
#
# Builds the release binaries (bgpod and bgpod-feeder), then runs `bgpod-feeder run` with
# every argument given here (`bgpod-feeder run --help` lists them). Each run happens in two
# network namespaces the benchmark creates and deletes; nothing outside them is touched.
# Needs BIRD 2 (`apt-get install bird2`; its system service is not used and may stay off).
# CARGO_TARGET_DIR is honoured. See bench/README.md for what is measured and how.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ $(id -u) -ne 0 ]]; then
    echo "error: bench/run.sh must run as root (it creates network namespaces)" >&2
    exit 1
fi
for tool in ip bird cargo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool not found (BIRD: apt-get install bird2; ip: iproute2)" >&2
        exit 1
    fi
done

target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -p bgpod -p bgpod-feeder
exec "$target_dir/release/bgpod-feeder" run --bgpod "$target_dir/release/bgpod" "$@"
