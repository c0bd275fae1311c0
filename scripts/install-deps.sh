#!/bin/sh
# Installs the Debian 12 packages gameday needs, only those missing (sudo when not root).
set -e
pkgs="meson ninja-build pkg-config gcc libuv1-dev libhttp-parser-dev libfyaml-dev libjansson-dev
libssl-dev libsqlite3-dev libcurl4-openssl-dev libc-ares-dev libcriterion-dev python3 python3-pytest
bind9-dnsutils tzdata libhiredis-dev redis-server awscli libpq-dev postgresql chromium"
# Node.js and npm (uPlot for the charts, playwright-core for the browser tests): Debian's,
# unless a node with npm is already installed.
command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
npm_deps() {
  # The front-end packages of package-lock.json, from the npm registry, when missing or stale.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "deps: npm ci (uplot, playwright-core)"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
  fi
}
cd "$(dirname "$0")/.."
[ -z "$missing" ] && { npm_deps; exit 0; }
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "deps: done"
npm_deps
