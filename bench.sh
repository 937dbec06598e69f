#!/usr/bin/env bash
# The benchmark (issue 7): builds in Release, makes sure RabbitMQ runs (as test.sh does) and pwsh is
# installed (a .NET global tool, for the process-per-call comparison), then runs Bench/ and writes
# bench-results/bench.json and bench-results/bench.md. Arguments go to the bench, for example
#   ./bench.sh --modes devhost --levels 1,16 --counts 20,80
#   ./bench.sh --fairness        (only the per-tenant fairness run: bench-results/fairness.md)
# The cost growth run (issue 12: an empty store, 100,000 finished tasks, 1,000 idle agents) runs by default
# whenever the modes include rabbitmq (it is a rabbitmq-mode phase):
#   ./bench.sh --skip-growth     (without it)
#   ./bench.sh --growth-only     (only it; --growth-history N --growth-agents N --growth-levels 1,16 --growth-counts 200,96)
#   ./bench.sh --spread          (only one orchestrator against two on one store: bench-results/spread.md; --spread-count N)
# --skip-dispatch leaves out the script dispatch figures; --keep leaves the run's folder (databases) in place.
set -uo pipefail
cd "$(dirname "$0")"
source tools/rabbitmq.sh

ensure_rabbitmq bench.sh
if ! command -v pwsh >/dev/null 2>&1 && [ ! -x "$HOME/.dotnet/tools/pwsh" ]; then
  echo "bench.sh: installing pwsh (dotnet tool install -g PowerShell --version 7.6.9)"
  dotnet tool install -g PowerShell --version 7.6.9 >/dev/null || echo "bench.sh: pwsh could not be installed; the process-per-call figures will be missing" >&2
fi
if ! dotnet build Bench/OpenHvx.Bench.csproj -c Release -v quiet -nologo -clp:ErrorsOnly; then
  stop_rabbitmq_if_started
  exit 1
fi
dotnet Bench/bin/Release/net10.0/OpenHvx.Bench.dll "$@"
status=$?
stop_rabbitmq_if_started
exit $status
