#!/bin/sh
# Configures a Meson build folder when it is missing or when the list of sources changed.
#   scripts/setup-build.sh DIR release|sanitize
set -e
cd "$(dirname "$0")/.."
dir=$1 kind=$2
opts="-Dbuildtype=release"
if [ "$kind" = sanitize ]; then
  opts="-Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false"
fi
[ "${CI:-}" = true ] && opts="$opts -Dwerror_ci=true"
list=$( (scripts/list-sources.sh src; scripts/list-sources.sh tests/unit; scripts/list-sources.sh web; echo "$opts") | cksum)
if [ -f "$dir/build.ninja" ] && [ "$(cat "$dir/.gd-sources" 2>/dev/null)" = "$list" ]; then
  exit 0
fi
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure $opts "$dir" >/dev/null
else
  meson setup $opts "$dir" >/dev/null
fi
echo "$list" > "$dir/.gd-sources"
