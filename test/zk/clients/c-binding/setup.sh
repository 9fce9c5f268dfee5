#!/usr/bin/env bash
# Installs ZooKeeper's C client for test/zk/zk-c-client.test.ts: the Node binding (npm
# zookeeper), whose install builds the C client from its sources with node-gyp (python3,
# make and a C compiler), from this directory's package-lock.json into its own
# node_modules, never into the repository's. Idempotent and quiet when it is there.
# Usage: bash test/zk/clients/c-binding/setup.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# npm ci only when the installed tree is not from this lockfile (a copy of it marks the install).
stamp="$here/node_modules/.installed-from-package-lock.json"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  echo "test/zk/clients/c-binding/setup: building ZooKeeper's C client and its Node binding" >&2
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
  cp "$here/package-lock.json" "$stamp"
fi
