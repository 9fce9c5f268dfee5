#!/usr/bin/env bash
# Installs what the comparison benchmark needs and synod does not, only what is
# missing: Debian's etcd-server, etcd-client and zookeeper (which brings a JRE), with
# apt-get (sudo only when not root); then the benchmark's own npm packages (the etcd
# client, vega and vega-lite) from bench/compare/package-lock.json into
# bench/compare/node_modules, never into the repository's node_modules.
# Idempotent and quiet when all is there. A machine without apt-get and without the
# binaries stops here with a message naming them. The npm packages include ZooKeeper's C
# client binding (npm zookeeper), built from the C client's sources by node-gyp (python3,
# make and a C compiler).
# Usage: bash bench/compare/setup.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

packages=(etcd-server etcd-client zookeeper)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$package"); fi
done
if (( ${#missing[@]} > 0 )); then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench/compare/setup: no apt-get here; install ${missing[*]} (or put etcd and java on the PATH and set ZOOKEEPER_JAR)" >&2
    command -v etcd >/dev/null 2>&1 && command -v java >/dev/null 2>&1 || exit 1
  else
    as_root=()
    if (( $(id -u) != 0 )); then as_root=(sudo); fi
    echo "bench/compare/setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    ${as_root[@]+"${as_root[@]}"} apt-get update -qq
    ${as_root[@]+"${as_root[@]}"} apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# npm ci only when the installed tree is not from this lockfile (a copy of it marks the install).
stamp="$here/node_modules/.installed-from-package-lock.json"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  echo "bench/compare/setup: installing bench/compare's npm packages" >&2
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
  cp "$here/package-lock.json" "$stamp"
fi
