#!/bin/sh
# Installs the Debian 12 packages gameday needs, only those missing (sudo when not root).
set -e
pkgs="meson ninja-build pkg-config gcc libuv1-dev libhttp-parser-dev libfyaml-dev libjansson-dev
libssl-dev libsqlite3-dev libcurl4-openssl-dev libc-ares-dev libcriterion-dev python3 python3-pytest
bind9-dnsutils tzdata libhiredis-dev redis-server awscli libpq-dev postgresql"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "deps: done"
