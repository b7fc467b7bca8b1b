#!/usr/bin/env bash
# Installs what rtmpload needs from Debian when it is missing: ffmpeg (the
# publishers), and for the tests nginx with libnginx-mod-rtmp and libssl3
# (which an SRS binary built with --sys-ssl needs).
# Usage: scripts/deps.sh [--test]
set -euo pipefail

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
if [ "${1:-}" = "--test" ]; then
	command -v nginx >/dev/null 2>&1 || need+=(nginx)
	[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(libnginx-mod-rtmp)
	compgen -G '/usr/lib/*/libssl.so.3' >/dev/null || compgen -G '/lib/*/libssl.so.3' >/dev/null || need+=(libssl3)
fi
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "deps: missing ${need[*]}: install them (apt-get install ${need[*]}) as root" >&2; exit 1; }
	sudo=sudo
fi
echo "deps: installing ${need[*]} from Debian" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
