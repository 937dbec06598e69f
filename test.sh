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
ensure_chromium test.sh
dotnet test OpenHvx.sln "$@"
status=$?
stop_rabbitmq_if_started
exit $status
