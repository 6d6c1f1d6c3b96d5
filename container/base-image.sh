#!/usr/bin/env bash
# Make the base image ($1, e.g. debian:bookworm-slim) available to $ENGINE (podman or docker)
# without a registry. Present already: nothing to do. Pullable: pulled. Otherwise (machines that reach Debian's
# package mirror but no container registry, like CI's) it is built from Debian's own packages
# with debootstrap and imported under that name: Debian bookworm with python3 (3.11, the
# project's Python), python3-venv and ca-certificates. The root file system is kept as a
# tarball under build/, so later runs import it in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

image="${1:?usage: container/base-image.sh IMAGE}"
engine="${ENGINE:-podman}"
suite=bookworm
packages=python3,python3-venv,ca-certificates
cache_dir=build/container
tarball="$cache_dir/rootfs-$suite-$(echo "$packages" | tr ',' '-').tar"

if $engine image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
if [ ! -s "$tarball" ] && $engine pull --quiet "$image" >/dev/null 2>&1; then
  exit 0
fi

# The mirror this machine already uses, read from its apt sources (deb822 or one-line style).
mirror() {
  local file
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    awk -v suite="$suite" '
      /^$/ { if (deb && match_suite && uri) { print uri; exit } deb = match_suite = 0; uri = "" }
      /^Types:/ && / deb( |$)/ { deb = 1 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) match_suite = 1 }
      /^URIs:/ { uri = $2 }
      END { if (deb && match_suite && uri) print uri }
    ' "$file"
  done
  if [ -f /etc/apt/sources.list ]; then
    awk -v suite="$suite" '$1 == "deb" && $0 ~ " " suite " " { for (i = 2; i <= NF; i++)
      if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list
  fi
}

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || {
    echo "$image cannot be pulled and debootstrap is missing (apt-get install debootstrap)" >&2
    exit 1
  }
  url="$(mirror | head -n1)"
  [ -n "$url" ] || { echo "no Debian $suite mirror found in the apt sources" >&2; exit 1; }
  mkdir -p "$cache_dir"
  rootfs="$(mktemp -d "$cache_dir/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  echo "Building $image from Debian $suite packages (debootstrap, minbase)"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$url" >"$rootfs.log" 2>&1 ||
    { tail -n 30 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # Nothing of this machine's goes into the image: its mirror, resolver, host name; and
  # like Debian's slim images, no package caches, documentation or translations.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/log/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
    "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
  : >"$rootfs/etc/apt/sources.list"
  : >"$rootfs/etc/resolv.conf"
  echo localhost >"$rootfs/etc/hostname"
  tar --numeric-owner -C "$rootfs" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
fi

$engine import "$tarball" "$image" >/dev/null
echo "Imported $image from $tarball"
