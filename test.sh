#!/usr/bin/env bash
# Runs every test. The broker tests need RabbitMQ: when OPENHVX_TEST_RABBITMQ is not set, this
# installs rabbitmq-server from Debian's packages if it is missing (as root), starts it if it is
# not running, and stops it afterwards if it started it. The console's browser tests need Debian's
# chromium, installed the same way unless OPENHVX_CHROMIUM names one. Arguments go to `dotnet test`.
set -uo pipefail
cd "$(dirname "$0")"
source tools/rabbitmq.sh
source tools/chromium.sh

ensure_rabbitmq test.sh
if chromium_missing; then
  # The download runs while the solution builds; the tests wait for both.
  ensure_chromium test.sh &
  chromium_install=$!
  dotnet build OpenHvx.sln -v q -nologo >/dev/null || echo "test.sh: the build failed; dotnet test below says why" >&2
  wait "$chromium_install"
fi
dotnet test OpenHvx.sln "$@"
status=$?
stop_rabbitmq_if_started
exit $status
