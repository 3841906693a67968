#!/usr/bin/env bash
# Builds the local base image `lethe-base:bookworm` from Debian's packages, for machines
# that reach no container registry (ours, and CI): debootstrap a minimal Debian bookworm
# with Python 3.11, venv and tini, copy in the host's extra CA certificates (so HTTPS
# through a proxy the host trusts works inside builds; never committed), import it.
# Production builds use the official python:3.11-slim instead (Dockerfile's ARG BASE).
#   deploy/base/make-base.sh [IMAGE]     needs root, debootstrap and a running docker
set -euo pipefail
IMAGE=${1:-lethe-base:bookworm}
MIRROR=${LETHE_DEBIAN_MIRROR:-}
if [ -z "$MIRROR" ]; then  # the mirror apt uses on this host
  MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
  [ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
DOCKER=${DOCKER:-docker}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lethe-base.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOTFS=$WORK/rootfs

debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv,tini \
  bookworm "$ROOTFS" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
# The same mirror and the security archive for apt-get inside builds.
cat > "$ROOTFS/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SOURCES
if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
  chroot "$ROOTFS" update-ca-certificates > /dev/null
fi
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
tar -C "$ROOTFS" -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' - "$IMAGE" > /dev/null
echo "$IMAGE"
