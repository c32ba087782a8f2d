# Shared by the end-to-end benchmark scripts, which set $bin (the sluice
# binary) and $work (a scratch directory holding sluice.yaml).

# Starts sluice with $work/sluice.yaml pinned to core 0 (SLUICE_CPUS, a
# taskset list, overrides), logging to $work/sluice.log, and waits until it
# serves; sets pid.
start_pinned_sluice() {
  taskset -c "${SLUICE_CPUS:-0}" "$bin" run --config "$work/sluice.yaml" > "$work/sluice.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q 'admin=' "$work/sluice.log" && break; sleep 0.1; done
}

# Starts a counting sink (`forward_peer sink`, $peer) on core 1 and waits
# until it serves; sets sink (its host:port) and adds it to pids.
start_sink() {
  taskset -c 1 "$peer" sink > "$work/sink.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do grep -q 'sink=' "$work/sink.log" && break; sleep 0.1; done
  sink=$(sed -n 's/^sink=//p' "$work/sink.log")
}

# relay_components DESTINATION: the receivers (OTLP over HTTP, remote write)
# and exporters (otlphttp, prometheusremotewrite) of the forwarding scripts,
# sending to DESTINATION (host:port).
relay_components() {
  cat <<YAML
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
  prometheus_remote_write:
    endpoint: 127.0.0.1:0
exporters:
  otlphttp:
    endpoint: http://$1
    compression: none
  prometheusremotewrite:
    endpoint: http://$1/api/v1/write
YAML
}

# listen_address RECEIVER PROTOCOL: the host:port a receiver of the running
# sluice listens on, e.g. `listen_address otlp grpc`.
listen_address() {
  grep -o "receiver=$1 address=\"$2 [0-9.:]*" "$work/sluice.log" | grep -o '[0-9.]*:[0-9]*$'
}

# storage_and_service [STORAGE-LINES]: the storage and service sections the
# scripts share (log in $work/data at `fsync: interval`, one I/O thread,
# metrics on a free port), up to the `pipelines:` key, which the caller
# fills in. STORAGE-LINES are further lines under `storage:`.
storage_and_service() {
  printf "storage:\n  directory: %s/data\n  fsync: ${FSYNC:-interval}\n" "$work"
  [ -z "${1:-}" ] || printf '%s\n' "$1"
  cat <<YAML
service:
  io_threads: 1
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
YAML
}
