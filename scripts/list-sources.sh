#!/bin/sh
# Lists the C sources (or, for web/, every file) under a folder, sorted, one per line.
# meson.build calls it so that adding a file needs no edit of the build.
cd "$(dirname "$0")/.." || exit 1
case "$1" in
  web) find web -type f ! -name '.*' | LC_ALL=C sort ;;
  *) find "$1" -name '*.c' | LC_ALL=C sort ;;
esac
