#!/usr/bin/env bash
# Runs the workspace tests against private AWS emulators, in two modes:
#
#   moto        every test in the workspace, with SQS, DynamoDB and EventBridge on moto_server;
#   localstack  the end-to-end suite (the `integration` test binary) and the libraries' tests (among
#               them the adapters' contract suites) with SQS and EventBridge on a LocalStack run on the
#               host and DynamoDB on moto_server, wired with the per-service endpoints
#               AWS_ENDPOINT_URL_SQS, _EVENTBRIDGE and _DYNAMODB, as a user would.
#
#   ./scripts/test.sh                          # both modes, moto first (what CI runs)
#   ./scripts/test.sh --emulator localstack    # one mode (or GREENFLEET_EMULATOR=moto|localstack|all)
#   ./scripts/test.sh -p greenfleet-infra      # extra arguments go to `cargo test` in each mode (naming
#                                              # a package replaces the mode's own scope)
#
# First run: creates .venv and installs the pinned moto[server]; in LocalStack mode also
# .venv-localstack with localstack-core[runtime] and the pins of scripts/localstack-constraints.txt.
# Each emulator listens on a free loopback port, logs to target/<name>.log and is stopped on exit.
# LocalStack keeps its state folder in target/localstack-state (the first call builds a cache there).
# GREENFLEET_BOTOCORE_DATA points the contract suites at botocore's CodeDeploy and EC2 models.
set -euo pipefail

MOTO_VERSION="5.2.5"
# 4.13.1 is the last localstack-core that loads on Python 3.11; docker-compose.localstack.yml pins the
# same version of the image.
LOCALSTACK_VERSION="4.13.1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { echo "test.sh: $*" >&2; }

# --emulator MODE (or --emulator=MODE) is ours; everything else goes to `cargo test`.
mode="${GREENFLEET_EMULATOR:-all}"
cargo_args=()
while (($# > 0)); do
    case "$1" in
        --emulator) mode="${2:?--emulator needs moto, localstack or all}"; shift 2 ;;
        --emulator=*) mode="${1#--emulator=}"; shift ;;
        --) cargo_args+=("$@"); break ;;
        *) cargo_args+=("$1"); shift ;;
    esac
done
case "$mode" in
    all | both | "") mode=all ;;
    moto | localstack) ;;
    *) say "unknown emulator mode \`$mode\`: use --emulator moto, localstack or all (the default)"; exit 2 ;;
esac

# Nothing from the caller's environment may send these tests to real AWS, or to another emulator:
# each mode sets the endpoints it means below.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_DYNAMODB \
    AWS_ENDPOINT_URL_EVENTBRIDGE AWS_ENDPOINT_URL_CODEDEPLOY AWS_ENDPOINT_URL_EC2 \
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export GREENFLEET_TEST_AWS=1
mkdir -p "$root/target"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Emulator processes this script started, stopped on exit.
pids=()
stop_emulators() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || continue
        # LocalStack takes about 4 s to stop on SIGTERM; give up waiting after 20 s.
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_emulators EXIT

# wait_ready NAME PID LOG URL PYTHON-CHECK: polls URL until the check (a Python expression over the
# answer's text `body`) holds, the process exits, or 90 s pass.
wait_ready() {
    local name="$1" pid="$2" log="$3" url="$4" check="$5"
    local deadline=$((SECONDS + 90))
    until python3 - "$url" "$check" >/dev/null 2>&1 <<'PY'; do
import sys, urllib.request
body = urllib.request.urlopen(sys.argv[1], timeout=2).read().decode()
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
        if ! kill -0 "$pid" 2>/dev/null; then
            say "$name exited during start-up; see $log:"
            tail -n 20 "$log" >&2 || true
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            say "$name did not answer on $url within 90 s; see $log"
            exit 1
        fi
        sleep 0.2
    done
}

# --- moto (both modes: DynamoDB is always moto's) -------------------------------------------------

moto_venv="$root/.venv"
if [[ ! -x "$moto_venv/bin/python" ]]; then
    say "creating $moto_venv"
    python3 -m venv "$moto_venv"
fi
if [[ ! -x "$moto_venv/bin/moto_server" ]]; then
    say "installing moto[server]==$MOTO_VERSION into $moto_venv"
    "$moto_venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# The contract suites check CodeDeploy's (and EC2's) exchanges against botocore's service models,
# which come with moto. botocore ships them gzipped: its own loader writes plain copies, once per
# botocore version, under target/botocore-data (also `_retry.json` and the version, in VERSION).
botocore_data="$root/target/botocore-data"
"$moto_venv/bin/python" - "$botocore_data" <<'PY'
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

moto_log="$root/target/moto.log"
moto="http://127.0.0.1:$(free_port)"
"$moto_venv/bin/moto_server" -H 127.0.0.1 -p "${moto##*:}" >"$moto_log" 2>&1 &
pids+=($!)
wait_ready moto_server "$!" "$moto_log" "$moto/moto-api/" "True"
say "moto_server $MOTO_VERSION on $moto (log: $moto_log)"

# --- LocalStack (localstack mode only) ------------------------------------------------------------

localstack=""
start_localstack() {
    local venv="$root/.venv-localstack" constraints="$root/scripts/localstack-constraints.txt"
    local stamp want started=$SECONDS
    # Reinstall whenever the version or the pins change.
    want="$LOCALSTACK_VERSION $(sha256sum "$constraints" | cut -d' ' -f1)"
    stamp="$venv/greenfleet-installed"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        say "installing localstack-core[runtime]==$LOCALSTACK_VERSION into $venv (about 500 MB, a minute)"
        [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -c "$constraints" "localstack-core[runtime]==$LOCALSTACK_VERSION"
        echo "$want" >"$stamp"
        say "LocalStack installed in $((SECONDS - started)) s"
    fi

    local log="$root/target/localstack.log" state="$root/target/localstack-state" port
    mkdir -p "$state"
    port="$(free_port)"
    # GATEWAY_SERVER: the default (Twisted) binds 0.0.0.0 whatever GATEWAY_LISTEN says.
    # OVERRIDE_IN_DOCKER: a /.dockerenv would make it write under /var/lib/localstack.
    # SERVICES: no DynamoDB, which downloads DynamoDB Local at start (moto serves it instead).
    # DNS_ADDRESS, DISABLE_EVENTS, SKIP_SSL_CERT_DOWNLOAD: no DNS server, analytics or downloads.
    env GATEWAY_LISTEN="127.0.0.1:$port" GATEWAY_SERVER=hypercorn SERVICES=sqs,events \
        OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$state" DNS_ADDRESS=0 DISABLE_EVENTS=1 \
        SKIP_SSL_CERT_DOWNLOAD=1 \
        "$venv/bin/python" -m localstack.runtime.main >"$log" 2>&1 &
    pids+=($!)
    localstack="http://127.0.0.1:$port"
    wait_ready LocalStack "$!" "$log" "$localstack/_localstack/health" \
        'all(__import__("json").loads(body)["services"].get(s) in ("available", "running") for s in ("sqs", "events"))'
    say "LocalStack $LOCALSTACK_VERSION on $localstack, SQS and EventBridge (log: $log; up in $((SECONDS - started)) s)"
}

# --- the runs -------------------------------------------------------------------------------------

# A named package replaces a mode's own scope (`cargo test --workspace -p X` would test everything).
user_scope=false
for arg in "${cargo_args[@]}"; do
    case "$arg" in
        -p | -p* | --package | --package=*) user_scope=true ;;
        --) break ;;
    esac
done

failed=()
# run MODE SCOPE...: the tests, with the endpoints exported for MODE; records a failure, never exits.
run() {
    local name="$1" started=$SECONDS status=0
    shift
    local scope=("$@")
    if $user_scope; then scope=(); fi
    say "== $name mode: cargo test ${scope[*]} ${cargo_args[*]}"
    cargo test "${scope[@]}" "${cargo_args[@]}" || status=$?
    if ((status == 0)); then
        say "== $name mode: passed in $((SECONDS - started)) s"
    else
        say "== $name mode: FAILED (exit $status) in $((SECONDS - started)) s"
        failed+=("$name")
    fi
}

if [[ "$mode" == all || "$mode" == moto ]]; then
    export AWS_ENDPOINT_URL="$moto"
    run moto --workspace
    unset AWS_ENDPOINT_URL
fi

if [[ "$mode" == all || "$mode" == localstack ]]; then
    start_localstack
    # Per service, as a user would; no AWS_ENDPOINT_URL, so a service nobody wired fails loudly
    # instead of quietly reaching moto. CodeDeploy and EC2 are the simulator's, set per test.
    export AWS_ENDPOINT_URL_SQS="$localstack"
    export AWS_ENDPOINT_URL_EVENTBRIDGE="$localstack"
    export AWS_ENDPOINT_URL_DYNAMODB="$moto"
    # `--workspace` keeps the features of the moto run, so nothing is compiled again; the libraries'
    # unit tests run twice, which costs seconds.
    run localstack --workspace --lib --test integration
fi

if ((${#failed[@]} > 0)); then
    say "failed: ${failed[*]}"
    exit 1
fi
