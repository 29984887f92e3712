#!/usr/bin/env bash
# Install the system programs jingshao's demo and tests need, where they are missing:
#   chromium      render = true pages (system browser first; else Playwright's own download)
#   postgresql    throwaway server for the storage tests (tests only)
#   redis-server  scale-out tests (tests only)
# Usage: scripts/ensure-system-deps.sh VENV [demo|test]
set -euo pipefail
venv=${1:-.venv}
what=${2:-test}

have() { command -v "$1" >/dev/null 2>&1; }
can_apt() { [ "$(id -u)" = 0 ] && have apt-get; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Chromium: system one where present, apt when root on Debian, else Playwright's download.
if have chromium || have chromium-browser || have google-chrome || [ -n "${JINGSHAO_CHROMIUM:-}" ]; then
  :
elif can_apt; then
  echo "installing chromium (apt)"
  apt_install chromium
else
  echo "installing Playwright's chromium"
  "$venv/bin/playwright" install chromium
fi

# A CJK font so report charts (and screenshots) render Chinese; without one they fall back to English labels.
if ! fc-list 2>/dev/null | grep -qiE 'wqy|noto.*cjk|source han|simhei'; then
  if can_apt; then echo "installing fonts-wqy-microhei (apt)"; apt_install fonts-wqy-microhei fontconfig; fi
fi

if [ "$what" = test ]; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! have initdb; then
    if can_apt; then echo "installing postgresql (apt)"; apt_install postgresql; fi
  fi
  if ! have redis-server; then
    if can_apt; then echo "installing redis-server (apt)"; apt_install redis-server; fi
  fi
fi
