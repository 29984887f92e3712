#!/usr/bin/env bash
# Reproduce web/apidocs/ (Swagger UI for /api/docs, served from the package: no CDN) from npm.
# Run only to upgrade, then commit what it wrote. Needs npm.
set -euo pipefail
SWAGGER_UI_VERSION="5.35.0"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$here/web/apidocs"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "swagger-ui-dist@${SWAGGER_UI_VERSION}" >/dev/null
tar -xzf "swagger-ui-dist-${SWAGGER_UI_VERSION}.tgz"
mkdir -p "$dest"
cp package/swagger-ui-bundle.js package/swagger-ui.css package/favicon-32x32.png package/LICENSE "$dest/"
printf 'swagger-ui-dist %s\n' "$SWAGGER_UI_VERSION" >"$dest/VERSIONS"
echo "vendored swagger-ui-dist ${SWAGGER_UI_VERSION} into $dest"
