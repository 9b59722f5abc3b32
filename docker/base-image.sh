#!/usr/bin/env bash
# Build the local base image for the exported services from Debian's own packages, for a machine that
# reaches a Debian mirror but no image registry: debootstrap (minbase, with python3, python3-venv,
# python3-pip and ca-certificates) into a folder, then `docker import`. Cached: when the image already
# exists it is reused, and nothing is downloaded.
#
#   docker/base-image.sh [TAG]     the tag defaults to labsvc-base:<codename>; printed on the last line
#
# The mirror is the one this machine's apt already uses (/etc/apt/sources.list and sources.list.d/),
# for this machine's Debian release; no host is written here. Needs root, debootstrap and a running
# Docker engine; each missing piece is named in one line.
set -euo pipefail

die() { echo "base-image: $*" >&2; exit 1; }
say() { echo "base-image: $*" >&2; }

[ -r /etc/os-release ] || die "no /etc/os-release: this script builds a Debian base image on a Debian host"
# shellcheck disable=SC1091
. /etc/os-release
[ "${ID:-}" = debian ] || die "this host is ${ID:-unknown}, not Debian: give BASE_IMAGE=python:3.11-slim (needs a registry) instead"
codename="${VERSION_CODENAME:-}"
[ -n "$codename" ] || die "/etc/os-release names no VERSION_CODENAME"
tag="${1:-labsvc-base:$codename}"

command -v docker >/dev/null 2>&1 || die "no docker command: apt-get install -y docker.io"
docker info >/dev/null 2>&1 || die "the Docker engine is not running: start dockerd (as root: dockerd &), then run this again"

if docker image inspect "$tag" >/dev/null 2>&1; then
  say "reusing $tag (built $(docker image inspect -f '{{.Created}}' "$tag"))"
  echo "$tag"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "building $tag needs root (debootstrap, chroot); run it as root or with sudo"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: apt-get install -y debootstrap"

# The first mirror of this machine's apt sources that serves the release itself (not -security, -updates).
mirror="$(python3 - "$codename" <<'PY'
import glob, re, sys
codename = sys.argv[1]
found = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for block in re.split(r"\n\s*\n", open(path, encoding="utf-8", errors="replace").read()):
        fields = {}
        for line in block.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.split()
        if fields.get("enabled", ["yes"])[0].lower() == "no":
            continue
        if "deb" in fields.get("types", []) and codename in fields.get("suites", []):
            found += fields.get("uris", [])
for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        continue
    for line in lines:
        words = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb" and words[2] == codename:
            found.append(words[1])
print(next((u for u in found if u.startswith(("http://", "https://"))), ""))
PY
)"
[ -n "$mirror" ] || die "no apt source of this machine serves '$codename' (deb, over http): fix apt's sources, or give BASE_IMAGE"

work="$(mktemp -d /var/tmp/labsvc-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
say "building $tag: debootstrap --variant=minbase $codename (this machine's Debian mirror), then docker import"
start=$SECONDS
if ! debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
      "$codename" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 15 "$work/debootstrap.log" >&2
  die "debootstrap failed (its last lines are above)"
fi
version="$(chroot "$work/root" python3 --version 2>&1)" || die "python3 does not run in the new root: $version"
# Nothing the image needs: downloaded packages and apt's lists.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
tar -C "$work/root" -c . | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
  --message "labsvc base: Debian $codename minbase, $version" - "$tag" >/dev/null
say "built $tag in $((SECONDS - start)) s ($version)"
echo "$tag"
