#!/usr/bin/env bash
# Makes sure a headless Chromium is installed for the HTML report's browser test (internal/htmlreport): installs the
# Debian package `chromium` when missing. Called by `make test` and .ci/run. Without root rights it can only report;
# with CI=true a Chromium that cannot be had is a failure, elsewhere the browser test skips loudly.
set -uo pipefail

have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
fail() {
  echo "ensure-chromium: $*" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  echo "ensure-chromium: the browser test will skip (it fails under CI=true)" >&2
  exit 0
}

have_chromium && exit 0
[ "$(id -u)" = 0 ] || fail "chromium is not installed and installing it needs root (apt-get install chromium)"
echo ">> installing chromium (headless browser for the HTML report test)"
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } ||
  fail "could not install chromium"
have_chromium || fail "chromium still not found after installing it"
echo ">> chromium ready: $(chromium --version 2>/dev/null)"
