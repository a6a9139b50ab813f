#!/usr/bin/env bash
# Prints the Subresource Integrity hashes of the Swagger UI files the docs page
# loads, for shared/http/docs-page.ts when changing its version:
#   bash scripts/swagger-ui-sri.sh 5.35.0
# They are hashed from the npm package (what jsDelivr serves, byte for byte),
# whose own integrity npm checks on download.
set -euo pipefail
version="${1:?usage: swagger-ui-sri.sh <swagger-ui-dist version>}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf ./*.tgz)
for file in swagger-ui-bundle.js swagger-ui.css; do
  echo "\"$file\": \"sha384-$(openssl dgst -sha384 -binary "$dir/package/$file" | base64 -w0)\","
done
