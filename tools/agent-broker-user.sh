#!/usr/bin/env bash
# Creates the RabbitMQ user of one agent, with exactly the permissions an agent needs, and prints its
# amqp URL (with a generated password, shown this once) on stdout.
#
#   tools/agent-broker-user.sh [--new-password | --permissions-only] <agentId> [vhost]
#
# It talks to the broker with rabbitmqctl (run it where rabbitmqctl reaches the node), or, when RABBITMQ_API_URL is set
# (e.g. http://broker:15672), with curl through the HTTP API of the management plugin (rabbitmq_management), as the
# broker user RABBITMQ_API_USER (tagged administrator) with the password RABBITMQ_API_PASSWORD. Neither that password nor
# the agent's ever goes on a command line: curl reads its credentials and the request bodies from file descriptors.
#
# The user is agent.<agentId>: the rule of WireTopology.AgentBrokerUser in Contracts, which the orchestrator
# checks against the AMQP user_id of every result, heartbeat and inventory. An existing user is an error
# (exit 3) unless --new-password is given: then it gets a new password (its tags are kept) and its permissions on the
# vhost are set again (connections already open keep working until they reconnect). --permissions-only sets the permissions
# of an existing user again and nothing else (its password stays; no URL is printed): for an upgrade whose agents need
# other permissions; a user that does not exist is exit 3 then. A vhost the broker does not have is
# exit 2, like a wrong argument. The URL's host and port are AGENT_BROKER_HOST (default localhost) and AGENT_BROKER_PORT
# (default 5672).
set -euo pipefail
export LC_ALL=C

usage() { echo "usage: $0 [--new-password | --permissions-only] <agentId> [vhost]" >&2; exit 2; }

new_password=0
permissions_only=0
case "${1:-}" in
  --new-password) new_password=1; shift ;;
  --permissions-only) permissions_only=1; shift ;;
esac
[ $# -ge 1 ] && [ $# -le 2 ] || usage
agent="$1"
vhost="${2:-/}"

# Contracts/Identifiers.AgentIdRule, matched whole (bash's =~ is POSIX ERE: $ is the end of the string, not of a line).
if ! [[ "$agent" =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
  echo "$0: invalid agent id: it must match ^[A-Za-z0-9_-]{1,64}\$" >&2
  exit 2
fi
user="agent.$agent"

# The agent's names are agent.<id>.tasks and agent.<id>.control (its task and control queues, and the exchanges of the
# same names MassTransit puts in front of them), their _error and _skipped queues (where MassTransit moves failed and
# unknown messages) and agent.<id>.bus (the bus endpoint every MassTransit bus has). An agent id has no '.' and no regex
# metacharacter, so the patterns cover this agent's names and no other agent's.
own="^agent\\.$agent\\.((tasks|control)(_error|_skipped)?|bus)\$"
# configure: declare (and delete) only its own queues and exchanges; never jobs, results or agent.telemetry.
# write: its own names (bindings, moving a message to _error) and publishing to results and agent.telemetry.
# read: its own names (consume its queue, bind its own exchanges); not jobs, so it cannot bind to another agent's key.
configure="$own"
write="$own|^results\$|^agent\\.telemetry\$"
read="$own"
# Topic permissions (routing keys on topic exchanges): results only for task.<uuid> (the result), started.<uuid> and
# progress.<uuid> (notes kept out of task.#, which the original controller reads as results: WireTopology), agent.telemetry
# only for its own heartbeat and inventory; it binds to neither, so no read key. Erlang's re is PCRE: \A and \z anchor the
# whole key (a $ would also pass a key ending in a newline).
topic_exchanges=(results agent.telemetry)
topic_write=('\A(task|started|progress)\.[0-9a-fA-F-]{36}\z' "\\A(heartbeat|inventory)\\.$agent\\z")
topic_read=('^$' '^$')

# Percent-encodes every character but the unreserved ones (RFC 3986), '/' included.
percent_encode() {
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      [A-Za-z0-9._~-]) out+="$c" ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# A JSON string of $1 (the patterns have backslashes; none of the values has a control character).
json_string() {
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
exists_message="$0: broker user $user exists; its password is not shown again. Run with --new-password to issue a new one, or remove it with:"
missing_message="$0: no broker user $user: --permissions-only changes an existing user (run without it to create one)"

if [ -n "${RABBITMQ_API_URL:-}" ]; then
  if [ -z "${RABBITMQ_API_USER:-}" ] || [ -z "${RABBITMQ_API_PASSWORD+set}" ]; then
    echo "$0: RABBITMQ_API_URL is set: RABBITMQ_API_USER and RABBITMQ_API_PASSWORD must be too" >&2
    exit 2
  fi
  if [[ "$RABBITMQ_API_USER$RABBITMQ_API_PASSWORD" == *[$'\n\r']* ]]; then
    echo "$0: RABBITMQ_API_USER and RABBITMQ_API_PASSWORD cannot hold a line break" >&2
    exit 2
  fi
  command -v curl >/dev/null 2>&1 || { echo "$0: RABBITMQ_API_URL is set but curl is missing" >&2; exit 2; }
  api="${RABBITMQ_API_URL%/}/api"
  credentials="$RABBITMQ_API_USER:$RABBITMQ_API_PASSWORD"
  credentials="${credentials//\\/\\\\}"
  credentials="user = \"${credentials//\"/\\\"}\""
  # api METHOD PATH [BODY]: the response's body, then its HTTP status alone on the last line. curl's credentials come on
  # descriptor 3 and the body on its standard input (both here-strings), so ps shows neither.
  api() {
    local out body=()
    [ $# -lt 3 ] || body=(-H 'content-type: application/json' --data-binary @-)
    if ! out=$(curl -sS -K /dev/fd/3 -X "$1" "${body[@]}" -w '\n%{http_code}' "$api/$2" 3<<<"$credentials" <<<"${3:-}"); then
      echo "$0: the management API at $RABBITMQ_API_URL did not answer $1 /api/$2" >&2
      exit 1
    fi
    printf '%s' "$out"
  }
  # expect STATUS... of a response: anything else ends the script (exit 1) with the broker's answer.
  expect() {
    local response="$1" status="${1##*$'\n'}"
    shift
    local ok
    for ok in "$@"; do
      [ "$status" = "$ok" ] && return 0
    done
    echo "$0: the management API answered HTTP $status: ${response%$'\n'*}" >&2
    exit 1
  }

  response=$(api GET "vhosts/$(percent_encode "$vhost")")
  if [ "${response##*$'\n'}" = 404 ]; then
    echo "$0: no virtual host $vhost on the broker" >&2
    exit 2
  fi
  expect "$response" 200

  response=$(api GET "users/$(percent_encode "$user")")
  tags="[]"
  if [ "${response##*$'\n'}" = 404 ]; then
    exists=0
  else
    expect "$response" 200
    exists=1
    # Kept as they are (rabbitmqctl change_password keeps them too).
    tags=$(sed -n 's/.*"tags":\(\[[^]]*\]\).*/\1/p' <<<"${response%$'\n'*}")
    [ -n "$tags" ] || tags="[]"
  fi
  if [ "$permissions_only" = 1 ] && [ "$exists" = 0 ]; then
    echo "$missing_message" >&2
    exit 3
  fi
  if [ "$exists" = 1 ] && [ "$new_password" = 0 ] && [ "$permissions_only" = 0 ]; then
    echo "$exists_message curl -X DELETE $api/users/$user" >&2
    exit 3
  fi
  if [ "$permissions_only" = 0 ]; then
    response=$(api PUT "users/$(percent_encode "$user")" "{\"password\":\"$password\",\"tags\":$tags}")
    expect "$response" 201 204
  fi
  response=$(api PUT "permissions/$(percent_encode "$vhost")/$(percent_encode "$user")" \
    "{\"configure\":$(json_string "$configure"),\"write\":$(json_string "$write"),\"read\":$(json_string "$read")}")
  expect "$response" 201 204
  for i in "${!topic_exchanges[@]}"; do
    response=$(api PUT "topic-permissions/$(percent_encode "$vhost")/$(percent_encode "$user")" \
      "{\"exchange\":$(json_string "${topic_exchanges[i]}"),\"write\":$(json_string "${topic_write[i]}"),\"read\":$(json_string "${topic_read[i]}")}")
    expect "$response" 201 204
  done
else
  # Listings are read whole before grep: grep -q stopping early would end rabbitmqctl with SIGPIPE, which pipefail reads as "absent".
  vhosts=$(rabbitmqctl -q list_vhosts --formatter json)
  if ! grep -qF "\"name\":\"$vhost\"" <<<"$vhosts"; then
    echo "$0: no virtual host $vhost on the broker" >&2
    exit 2
  fi

  users=$(rabbitmqctl -q list_users --formatter json)
  exists=0
  grep -qF "\"user\":\"$user\"" <<<"$users" && exists=1
  if [ "$permissions_only" = 1 ] && [ "$exists" = 0 ]; then
    echo "$missing_message" >&2
    exit 3
  fi
  if [ "$exists" = 1 ] && [ "$new_password" = 0 ] && [ "$permissions_only" = 0 ]; then
    echo "$exists_message rabbitmqctl delete_user $user" >&2
    exit 3
  fi

  if [ "$permissions_only" = 1 ]; then
    : # the password stays
  elif [ "$exists" = 1 ]; then
    # The password goes through stdin, never on a command line that ps shows.
    printf '%s\n' "$password" | rabbitmqctl -q change_password "$user" >/dev/null
  else
    printf '%s\n' "$password" | rabbitmqctl -q add_user "$user" >/dev/null
  fi
  rabbitmqctl -q set_permissions -p "$vhost" "$user" "$configure" "$write" "$read" >/dev/null
  for i in "${!topic_exchanges[@]}"; do
    rabbitmqctl -q set_topic_permissions -p "$vhost" "$user" "${topic_exchanges[i]}" "${topic_write[i]}" "${topic_read[i]}" >/dev/null
  done
fi

if [ "$permissions_only" = 1 ]; then
  echo "$0: the permissions of broker user $user on vhost $vhost are set again; its password is unchanged" >&2
  exit 0
fi

host="${AGENT_BROKER_HOST:-localhost}"
port="${AGENT_BROKER_PORT:-5672}"
if [ "$vhost" = "/" ]; then
  path="/"
else
  path="/$(percent_encode "$vhost")"
fi
echo "$0: broker user $user set up on vhost $vhost; give the agent this URL as OPENHVX_RABBITMQ_URL (it is not shown again):" >&2
echo "amqp://$user:$password@$host:$port$path"
