#!/usr/bin/env bash
# Reproduce the vendored web assets in web/static/vendor/ from the npm registry, at pinned versions.
# The dashboard serves them itself (no CDN: it must work offline); run this only to upgrade them,
# then commit the files it wrote. Needs npm.
set -euo pipefail

HTMX_VERSION="2.0.11"
ECHARTS_VERSION="5.6.0"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$here/web/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent "htmx.org@${HTMX_VERSION}" "echarts@${ECHARTS_VERSION}" >/dev/null
mkdir htmx echarts
tar -xzf "htmx.org-${HTMX_VERSION}.tgz" -C htmx
tar -xzf "echarts-${ECHARTS_VERSION}.tgz" -C echarts

mkdir -p "$dest"
cp htmx/package/dist/htmx.min.js "$dest/htmx.min.js"
cp htmx/package/LICENSE "$dest/htmx.LICENSE"
cp echarts/package/dist/echarts.min.js "$dest/echarts.min.js"
cp echarts/package/LICENSE "$dest/echarts.LICENSE"
[ -f echarts/package/NOTICE ] && cp echarts/package/NOTICE "$dest/echarts.NOTICE"
printf 'htmx.org %s\necharts %s\n' "$HTMX_VERSION" "$ECHARTS_VERSION" >"$dest/VERSIONS"
echo "vendored htmx.org ${HTMX_VERSION} and echarts ${ECHARTS_VERSION} into $dest"
