#!/usr/bin/env bash
# Packs the openhvx CLI from this repository and installs it as a global .NET tool (again over an older install).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet pack Cli -c Release -o Cli/nupkg
if dotnet tool list --global | grep -q '^openhvx\.cli '; then
  dotnet tool update --global --add-source ./Cli/nupkg OpenHvx.Cli
else
  dotnet tool install --global --add-source ./Cli/nupkg OpenHvx.Cli
fi
echo "openhvx installed; make sure ~/.dotnet/tools is on your PATH."
