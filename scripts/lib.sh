# Helpers the scripts that start a test server share; `source scripts/lib.sh`.

# A free loopback port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits up to 30 s until Houston at port $1 (process $2) answers /readyz; prints
# its log ($3) and fails when the process ends first.
wait_ready() {
  local port=$1 pid=$2 log=$3
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.2
  done
  echo "Houston did not become ready on port $port" >&2
  cat "$log" >&2
  return 1
}
