#!/bin/sh
# Deploy the demo service: relgate runs this with the deployment in RELGATE_*
# variables. It stops the instance running in this environment, starts the new
# version in its own session (so it outlives this script), and returns once the
# new instance listens. Whether it is healthy is for `verify:` to find out.
set -eu

environment=${RELGATE_ENVIRONMENT:?RELGATE_ENVIRONMENT is not set: run me through relgate}
version=${RELGATE_VERSION:?RELGATE_VERSION is not set}
artifact=${RELGATE_ARTIFACT:-}
demo_dir=${RELGATE_DEMO_DIR:-/tmp/relgate-demo}
here=$(cd "$(dirname "$0")" && pwd)

case "$environment" in
    dev) default_port=8801 ;;
    staging) default_port=8802 ;;
    production) default_port=8803 ;;
    *) default_port=8800 ;;
esac
port=${PORT:-$default_port}

mkdir -p "$demo_dir"
pid_file="$demo_dir/$environment.pid"
log_file="$demo_dir/$environment.log"

# Whether process $1 runs; a zombie (exited, not yet reaped) does not.
running() {
    state=$(ps -p "$1" -o stat= 2>/dev/null) || return 1
    case "$state" in Z*) return 1 ;; esac
}

# Stop the previous instance, if the pid file still names a demo service.
if [ -f "$pid_file" ]; then
    old_pid=$(cat "$pid_file")
    rm -f "$pid_file"
    if running "$old_pid" && ps -p "$old_pid" -o args= | grep -q 'app\.py'; then
        echo "stopping the previous instance (pid $old_pid)"
        kill "$old_pid"
        tries=0
        while running "$old_pid" && [ "$tries" -lt 50 ]; do
            sleep 0.1
            tries=$((tries + 1))
        done
        kill -9 "$old_pid" 2>/dev/null || true
    fi
fi

echo "starting demo-service $version in $environment on 127.0.0.1:$port"
# setsid: its own session, so relgate does not stop it when this script ends;
# output goes to a file, not to relgate's pipe.
VERSION=$version ARTIFACT=$artifact ENVIRONMENT=$environment PORT=$port PID_FILE=$pid_file \
    FAULTS="$demo_dir/faults" \
    setsid "${PYTHON:-python3}" "$here/app.py" >>"$log_file" 2>&1 </dev/null &
app_pid=$!

tries=0
while [ ! -s "$pid_file" ]; do
    if ! running "$app_pid" || [ "$tries" -ge 100 ]; then
        echo "demo-service did not start; the end of $log_file:" >&2
        tail -n 20 "$log_file" >&2
        exit 1
    fi
    sleep 0.1
    tries=$((tries + 1))
done
echo "demo-service $version is running (pid $(cat "$pid_file"))"
