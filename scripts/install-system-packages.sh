#!/usr/bin/env bash
# Installs the Debian packages some tests need, only those missing: idempotent, quiet
# when all is there: faketime (libfaketime), for the session-expiry tests that step a
# server's wall clock (test/kv/session-clock.faketime.test.ts); chromium, the headless
# browser test/browser/cluster.browser.test.ts runs a cluster in; zookeeper (a real
# server and zkCli.sh), python3-kazoo, and Apache Curator (libcurator-recipes-java, run
# from source by a JDK's launcher: openjdk-17-jdk-headless), real ZooKeeper clients for
# test/zk. Uses sudo
# only when not root. A machine without apt-get (not Debian) installs nothing: the
# tests that need a package skip and say why.
# Usage: bash scripts/install-system-packages.sh
set -euo pipefail

packages=(faketime chromium zookeeper python3-kazoo openjdk-17-jdk-headless libcurator-recipes-java libslf4j-java)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$package"); fi
done
if (( ${#missing[@]} == 0 )); then exit 0; fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-packages: no apt-get here; not installing ${missing[*]} (the tests that need them skip)" >&2
  exit 0
fi
as_root=()
if (( $(id -u) != 0 )); then as_root=(sudo); fi

echo "install-system-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
${as_root[@]+"${as_root[@]}"} apt-get update -qq
${as_root[@]+"${as_root[@]}"} apt-get install -y -qq --no-install-recommends "${missing[@]}"
