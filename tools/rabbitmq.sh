# Sourced by test.sh and bench.sh: a local RabbitMQ for the run.
# ensure_rabbitmq: when OPENHVX_TEST_RABBITMQ is not set, installs rabbitmq-server from Debian's
# packages if it is missing (as root), starts it if it is not running, and remembers whether it did.
# It enables the management plugin (its HTTP API on port 15672): the tests make virtual hosts and agent users through it
# in milliseconds, where each rabbitmqctl call starts an Erlang VM; without it they fall back to rabbitmqctl.
# stop_rabbitmq_if_started: stops the broker only if ensure_rabbitmq started it.
started_broker=0

ensure_rabbitmq() {
  local who="$1"
  [ -z "${OPENHVX_TEST_RABBITMQ:-}" ] || return 0
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "$who: installing rabbitmq-server from Debian's packages"
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
    else
      echo "$who: rabbitmq-server is missing and cannot be installed here" >&2
    fi
  fi
  if command -v rabbitmqctl >/dev/null 2>&1 && ! rabbitmqctl -q status >/dev/null 2>&1; then
    local broker_start
    broker_start=$(date +%s)
    # Debian's package may have started a node already (its post-install script does): wait for it then.
    if ! pgrep -f 'beam.*rabbit' >/dev/null 2>&1; then
      echo "$who: starting RabbitMQ"
      # Written to the enabled-plugins file, started with the node.
      rabbitmq-plugins -q enable --offline rabbitmq_management >/dev/null 2>&1 || echo "$who: could not enable RabbitMQ's management plugin" >&2
      rabbitmq-server -detached >/dev/null 2>&1
    fi
    started_broker=1
    # await_startup answers at once while the node has not registered yet: ask until it is up.
    until rabbitmqctl -q --timeout 30 await_startup >/dev/null 2>&1; do
      if [ $(( $(date +%s) - broker_start )) -gt 120 ]; then
        echo "$who: RabbitMQ did not start within 120 s" >&2
        break
      fi
      sleep 1
    done
    rabbitmqctl -q status >/dev/null 2>&1 && echo "$who: RabbitMQ up in $(( $(date +%s) - broker_start )) s"
  fi
  # A node that was running already (or that Debian's post-install script started) gets the plugin now.
  if command -v rabbitmq-plugins >/dev/null 2>&1 && ! curl -s -o /dev/null --max-time 5 http://localhost:15672/ 2>/dev/null; then
    echo "$who: enabling RabbitMQ's management plugin"
    rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 || echo "$who: could not enable RabbitMQ's management plugin: the tests use rabbitmqctl" >&2
  fi
}

stop_rabbitmq_if_started() {
  if [ "$started_broker" = 1 ]; then
    rabbitmqctl stop >/dev/null 2>&1
    epmd -kill >/dev/null 2>&1 || true
  fi
}
