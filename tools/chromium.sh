# Sourced by test.sh: the browser the console's tests drive (Debian's chromium; Playwright downloads no browser).
# ensure_chromium: when OPENHVX_CHROMIUM is not set and /usr/bin/chromium is missing, installs Debian's chromium (as root).
ensure_chromium() {
  local who="$1"
  [ -z "${OPENHVX_CHROMIUM:-}" ] || return 0
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "$who: installing chromium from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "$who: chromium is missing and cannot be installed here; the browser tests will be skipped (fail under CI=true)" >&2
  fi
}
