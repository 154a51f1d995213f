#!/usr/bin/env bash
# Vendors the uPlot chart library (npm package `uplot`, MIT) into internal/htmlreport/uplot/ at a pinned version:
# the minified IIFE build, its CSS, the license, the version and the files' SHA-256 sums. The HTML report embeds
# these files (go:embed), so a report opens from disk with no network. `make vendor-uplot` runs this script with the
# Makefile's UPLOT_VERSION; TestVendoredUPlot checks that the embedded files are that version, unmodified.
set -euo pipefail
version="${1:?usage: vendor-uplot.sh VERSION}"
cd "$(dirname "$0")/.."
dest=internal/htmlreport/uplot
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo ">> npm pack uplot@$version"
(cd "$tmp" && npm pack --silent "uplot@$version" >/dev/null) # npm checks the tarball's integrity
tar -xzf "$tmp/uplot-$version.tgz" -C "$tmp"
got="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$tmp/package/package.json" | head -1)"
[ "$got" = "$version" ] || { echo "vendor-uplot: package.json says $got, want $version" >&2; exit 1; }

mkdir -p "$dest"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$tmp/package/LICENSE" "$dest/"
echo "$version" >"$dest/VERSION"
(cd "$dest" && sha256sum uPlot.iife.min.js uPlot.min.css LICENSE >SHA256SUMS)
echo ">> vendored uPlot $version into $dest"
