#!/usr/bin/env bash
# Runs the workspace tests against a private moto_server (SQS, DynamoDB, EventBridge emulator).
#
#   ./scripts/test.sh                      # every test in the workspace
#   ./scripts/test.sh -p greenfleet-infra  # extra arguments go to `cargo test` (naming a package
#                                          # drops `--workspace`, which would otherwise override it)
#
# First run: creates .venv in the repository root and installs the pinned moto[server] into it.
# moto listens on a free loopback port; its log is target/moto.log; it is stopped on exit.
# GREENFLEET_BOTOCORE_DATA points the contract suites at botocore's CodeDeploy and EC2 models.
set -euo pipefail

MOTO_VERSION="5.2.5"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "test.sh: creating $venv" >&2
    python3 -m venv "$venv"
fi
if [[ ! -x "$venv/bin/moto_server" ]]; then
    echo "test.sh: installing moto[server]==$MOTO_VERSION into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# The contract suites check CodeDeploy's (and EC2's) exchanges against botocore's service models,
# which come with moto. botocore ships them gzipped: its own loader writes plain copies, once per
# botocore version, under target/botocore-data (also `_retry.json` and the version, in VERSION).
botocore_data="$root/target/botocore-data"
"$venv/bin/python" - "$botocore_data" <<'PY'
import json, os, sys
import botocore, botocore.loaders
out = sys.argv[1]
version_file = os.path.join(out, "VERSION")
if os.path.exists(version_file) and open(version_file).read().strip() == botocore.__version__:
    sys.exit(0)
loader = botocore.loaders.Loader()
files = {f"{s}/{v}/service-2.json": loader.load_service_model(s, "service-2", api_version=v)
         for s, v in [("codedeploy", "2014-10-06"), ("ec2", "2016-11-15")]}
files["_retry.json"] = loader.load_data("_retry")
for name, data in files.items():
    os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
    with open(os.path.join(out, name), "w") as f:
        json.dump(data, f)
with open(version_file, "w") as f:
    f.write(botocore.__version__ + "\n")
PY
export GREENFLEET_BOTOCORE_DATA="$botocore_data"

port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
mkdir -p "$root/target"
log="$root/target/moto.log"

"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!

stop_moto() {
    if kill -0 "$moto_pid" 2>/dev/null; then
        kill "$moto_pid" 2>/dev/null || true
        wait "$moto_pid" 2>/dev/null || true
    fi
}
trap stop_moto EXIT

endpoint="http://127.0.0.1:$port"
deadline=$((SECONDS + 60))
until "$venv/bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "$endpoint/moto-api/" >/dev/null 2>&1; do
    if ! kill -0 "$moto_pid" 2>/dev/null; then
        echo "test.sh: moto_server exited during start-up; see $log:" >&2
        tail -n 20 "$log" >&2 || true
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "test.sh: moto_server did not answer on $endpoint/moto-api/ within 60 s; see $log" >&2
        exit 1
    fi
    sleep 0.2
done
echo "test.sh: moto_server $MOTO_VERSION on $endpoint (log: $log)" >&2

export AWS_ENDPOINT_URL="$endpoint"
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export GREENFLEET_TEST_AWS=1
# Nothing from the caller's environment may send these tests to real AWS.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_EVENTBRIDGE AWS_IGNORE_CONFIGURED_ENDPOINT_URLS

# `cargo test --workspace -p X` would ignore `-p` and test everything: select the workspace only
# when no package is named.
scope=(--workspace)
for arg in "$@"; do
    case "$arg" in
        -p | -p* | --package | --package=*) scope=() ;;
        --) break ;;
    esac
done
cargo test "${scope[@]}" "$@"
