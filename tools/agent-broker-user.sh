#!/usr/bin/env bash
# Creates the RabbitMQ user of one agent, with exactly the permissions an agent needs, and prints its
# amqp URL (with a generated password, shown this once) on stdout. Run it where rabbitmqctl reaches the node.
#
#   tools/agent-broker-user.sh [--new-password] <agentId> [vhost]
#
# The user is agent.<agentId>: the rule of WireTopology.AgentBrokerUser in Contracts, which the orchestrator
# checks against the AMQP user_id of every result, heartbeat and inventory. An existing user is an error
# (exit 3) unless --new-password is given: then it gets a new password and its permissions on the vhost are set
# again (connections already open keep working until they reconnect). The URL's host and port are
# AGENT_BROKER_HOST (default localhost) and AGENT_BROKER_PORT (default 5672).
set -euo pipefail
export LC_ALL=C

usage() { echo "usage: $0 [--new-password] <agentId> [vhost]" >&2; exit 2; }

new_password=0
if [ "${1:-}" = "--new-password" ]; then
  new_password=1
  shift
fi
[ $# -ge 1 ] && [ $# -le 2 ] || usage
agent="$1"
vhost="${2:-/}"

# Contracts/Identifiers.AgentIdRule, matched whole (bash's =~ is POSIX ERE: $ is the end of the string, not of a line).
if ! [[ "$agent" =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
  echo "$0: invalid agent id: it must match ^[A-Za-z0-9_-]{1,64}\$" >&2
  exit 2
fi
user="agent.$agent"

# Listings are read whole before grep: grep -q stopping early would end rabbitmqctl with SIGPIPE, which pipefail reads as "absent".
vhosts=$(rabbitmqctl -q list_vhosts --formatter json)
if ! grep -qF "\"name\":\"$vhost\"" <<<"$vhosts"; then
  echo "$0: no virtual host $vhost on the broker" >&2
  exit 2
fi

users=$(rabbitmqctl -q list_users --formatter json)
exists=0
grep -qF "\"user\":\"$user\"" <<<"$users" && exists=1
if [ "$exists" = 1 ] && [ "$new_password" = 0 ]; then
  echo "$0: broker user $user exists; its password is not shown again. Run with --new-password to issue a new one, or remove it with: rabbitmqctl delete_user $user" >&2
  exit 3
fi

password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
if [ "$exists" = 1 ]; then
  # The password goes through stdin, never on a command line that ps shows.
  printf '%s\n' "$password" | rabbitmqctl -q change_password "$user" >/dev/null
else
  printf '%s\n' "$password" | rabbitmqctl -q add_user "$user" >/dev/null
fi

# The agent's names are agent.<id>.tasks and agent.<id>.control (its task and control queues, and the exchanges of the
# same names MassTransit puts in front of them), their _error and _skipped queues (where MassTransit moves failed and
# unknown messages) and agent.<id>.bus (the bus endpoint every MassTransit bus has). An agent id has no '.' and no regex
# metacharacter, so the patterns cover this agent's names and no other agent's.
own="^agent\\.$agent\\.((tasks|control)(_error|_skipped)?|bus)\$"
# configure: declare (and delete) only its own queues and exchanges; never jobs, results or agent.telemetry.
# write: its own names (bindings, moving a message to _error) and publishing to results and agent.telemetry.
# read: its own names (consume its queue, bind its own exchanges); not jobs, so it cannot bind to another agent's key.
rabbitmqctl -q set_permissions -p "$vhost" "$user" "$own" "$own|^results\$|^agent\\.telemetry\$" "$own" >/dev/null
# Topic permissions (routing keys on topic exchanges): results only for task.<uuid>[.started|.progress],
# agent.telemetry only for its own heartbeat and inventory; it binds to neither, so no read key.
rabbitmqctl -q set_topic_permissions -p "$vhost" "$user" results '^task\.[0-9a-fA-F-]{36}(\.(started|progress))?$' '^$' >/dev/null
rabbitmqctl -q set_topic_permissions -p "$vhost" "$user" agent.telemetry "^(heartbeat|inventory)\\.$agent\$" '^$' >/dev/null

host="${AGENT_BROKER_HOST:-localhost}"
port="${AGENT_BROKER_PORT:-5672}"
if [ "$vhost" = "/" ]; then
  path="/"
else
  path="/"
  for ((i = 0; i < ${#vhost}; i++)); do
    c="${vhost:i:1}"
    case "$c" in
      [A-Za-z0-9._~-]) path+="$c" ;;
      *) path+=$(printf '%%%02X' "'$c") ;;
    esac
  done
fi
echo "$0: broker user $user set up on vhost $vhost; give the agent this URL as OPENHVX_RABBITMQ_URL (it is not shown again):" >&2
echo "amqp://$user:$password@$host:$port$path"
