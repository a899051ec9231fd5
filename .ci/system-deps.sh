#!/usr/bin/env bash
# System packages the test suite uses: Debian's chromium (driven by playwright),
# PostgreSQL, SLURM with munge (a single-node cluster for tests/clusters/test_slurm.py) and curl.
# Skipped when already present; needs root (CI runs as root).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v slurmctld >/dev/null 2>&1 || need+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || need+=(munge)
command -v curl >/dev/null 2>&1 || need+=(curl)  # the README's curl example (tests/test_readme.py)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        echo "warning: not root; cannot install ${need[*]} (their tests will skip)" >&2
    fi
fi
