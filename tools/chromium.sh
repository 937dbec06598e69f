# Sourced by test.sh: the browser the console's tests drive (Debian's chromium; Playwright downloads no browser).
# chromium_missing: true when OPENHVX_CHROMIUM is not set and /usr/bin/chromium is not there.
# ensure_chromium: installs Debian's chromium when it is missing (as root); the package lists are read again only if the
# install fails with the lists there are (ensure_rabbitmq has usually just read them).
chromium_missing() {
  [ -z "${OPENHVX_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]
}

ensure_chromium() {
  local who="$1"
  chromium_missing || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "$who: installing chromium from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
    [ -x /usr/bin/chromium ] && echo "$who: chromium installed"
  else
    echo "$who: chromium is missing and cannot be installed here; the browser tests will be skipped (fail under CI=true)" >&2
  fi
}
