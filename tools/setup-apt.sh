#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Add bookworm-backports and deb-src entries to apt, derived from the
# machine's existing deb822 sources.  No archive host name is written here:
# the URIs are copied from what the machine already uses.  Idempotent.
set -euo pipefail

src=/etc/apt/sources.list.d/debian.sources
dst=/etc/apt/sources.list.d/kvm-soc.sources
cache=${KVM_SOC_CACHE:-/var/cache/kvm-soc}
stamp=$cache/apt-updated

if [ ! -f "$dst" ]; then
	[ -f "$src" ] || { echo "setup-apt: $src not found" >&2; exit 1; }
	# The stanza whose Suites name the release itself (not -security).
	uri=$(awk -v RS= '/Suites:[^\n]*bookworm( |\n|$)/ { if (match($0, /URIs: [^\n]+/)) { print substr($0, RSTART + 6, RLENGTH - 6); exit } }' "$src")
	key=$(awk -v RS= '/Suites:[^\n]*bookworm( |\n|$)/ { if (match($0, /Signed-By: [^\n]+/)) { print substr($0, RSTART + 11, RLENGTH - 11); exit } }' "$src")
	[ -n "$uri" ] || { echo "setup-apt: no bookworm URI in $src" >&2; exit 1; }
	cat > "$dst.tmp" <<EOT
Types: deb deb-src
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: ${key:-/usr/share/keyrings/debian-archive-keyring.gpg}

Types: deb-src
URIs: $uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: ${key:-/usr/share/keyrings/debian-archive-keyring.gpg}
EOT
	mv "$dst.tmp" "$dst"
	rm -f "$stamp"
fi

mkdir -p "$cache"
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
	echo ">>> apt-get update"
	apt-get update -q >/dev/null
	touch "$stamp"
fi
