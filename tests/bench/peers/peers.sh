# shellcheck shell=bash
# The agents hvmeter is compared with, started the way a compute host runs
# them but confined to loopback and a directory of their own. Source it with
# PEER_DIR set (an empty directory), then:
#   peer_rabbit_start        Debian's RabbitMQ as user rabbitmq, node hvb<pid>,
#                            AMQP and Erlang distribution on 127.0.0.1 ports;
#                            prints its pid (beam.smp); waits until it accepts
#   peer_nova_start          tests/bench/peers/nova_stub.py on a loopback port
#   peer_ceilometer_conf INTERVAL   writes PEER_DIR/ceilometer/*.conf, *.yaml
#   peer_ceilometer_start    ceilometer-agent-notification, then
#                            ceilometer-polling --polling-namespaces compute
#   peer_exporter_start      prometheus-libvirt-exporter on a loopback port
#   peer_stop_all            stops every process started here, by pid
# With PEER_CG set (a cgroup v2 directory), each daemon starts inside its own
# child cgroup PEER_CG/NAME (rabbitmq, nova, notification, polling,
# exporter), so its CPU, children and exited threads included, can be read
# from NAME/cpu.stat.
# Pids: PEER_RABBIT_PID, PEER_EPMD_PID (only when we started epmd),
# PEER_NOVA_PID, PEER_NOTIF_PID, PEER_POLL_PID, PEER_EXPORTER_PID; ports
# PEER_RABBIT_PORT, PEER_NOVA_PORT, PEER_EXPORTER_PORT. Functions return
# non-zero with a reason on stderr; none exits the caller.
PEER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEER_RABBIT_PID= PEER_EPMD_PID= PEER_NOVA_PID= PEER_NOTIF_PID= PEER_POLL_PID= PEER_EXPORTER_PID=
PEER_RABBIT_PORT= PEER_NOVA_PORT= PEER_EXPORTER_PORT=

_peer_err() { echo "peers.sh: $*" >&2; }

# A free TCP port on 127.0.0.1 (refused = nobody listens).
peer_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# _peer_spawn NAME CMD...: runs CMD in the cgroup PEER_CG/NAME (when
# PEER_CG is set) from its first instruction: it joins before exec, so
# every process and thread it makes is counted there.
_peer_spawn() {
	local name=$1
	shift
	if [ -n "${PEER_CG:-}" ]; then
		mkdir -p "$PEER_CG/$name" && echo "$BASHPID" >"$PEER_CG/$name/cgroup.procs" || return 1
	fi
	exec "$@"
}

_peer_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

peer_rabbit_start() {
	local d=$PEER_DIR/rabbit dist had_epmd
	command -v /usr/lib/rabbitmq/bin/rabbitmq-server >/dev/null ||
		{ _peer_err "rabbitmq-server is not installed"; return 1; }
	PEER_RABBIT_PORT=$(peer_port) && dist=$(peer_port) || { _peer_err "no free port"; return 1; }
	mkdir -p "$d/log" "$d/mnesia" && echo '[].' >"$d/plugins" && chown -R rabbitmq: "$d" || return 1
	chmod 755 "$PEER_DIR" "$d"
	had_epmd=$(pgrep -x epmd | head -n 1)
	# runuser, not the Debian wrapper: the wrapper writes its logs to
	# /var/log/rabbitmq and keeps no pid we could stop. The Erlang
	# distribution listens on loopback only, like AMQP.
	(cd /var/lib/rabbitmq && _peer_spawn rabbitmq runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq \
		RABBITMQ_NODENAME="hvb$$@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		RABBITMQ_NODE_PORT="$PEER_RABBIT_PORT" RABBITMQ_DIST_PORT="$dist" ERL_EPMD_ADDRESS=127.0.0.1 \
		RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
		RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/pid" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$d/plugins" /usr/lib/rabbitmq/bin/rabbitmq-server \
		>"$d/out" 2>&1) &
	for _ in $(seq 120); do
		_peer_listening "$PEER_RABBIT_PORT" && break
		sleep 0.5
	done
	PEER_RABBIT_PID=$(cat "$d/pid" 2>/dev/null)
	[ -z "$had_epmd" ] && PEER_EPMD_PID=$(pgrep -x epmd | head -n 1)
	if ! _peer_listening "$PEER_RABBIT_PORT"; then
		_peer_err "RabbitMQ did not listen on 127.0.0.1:$PEER_RABBIT_PORT within 60 s:"
		tail -n 5 "$d/out" >&2
		return 1
	fi
	echo "$PEER_RABBIT_PID"
}

peer_nova_start() {
	PEER_NOVA_PORT=$(peer_port) || { _peer_err "no free port"; return 1; }
	(_peer_spawn nova /usr/bin/python3 "$PEER_SRC/nova_stub.py" "$PEER_NOVA_PORT" \
		"$PEER_DIR/nova.count") >"$PEER_DIR/nova.out" 2>&1 &
	PEER_NOVA_PID=$!
	for _ in $(seq 50); do
		_peer_listening "$PEER_NOVA_PORT" && return 0
		sleep 0.1
	done
	_peer_err "the Nova stub did not start: $(cat "$PEER_DIR/nova.out")"
	return 1
}

peer_ceilometer_conf() {
	local d=$PEER_DIR/ceilometer f
	mkdir -p "$d/log" "$d/lock" || return 1
	for f in ceilometer.conf polling.yaml pipeline.yaml event_pipeline.yaml; do
		sed -e "s|@DIR@|$d|g; s|@RABBIT_PORT@|$PEER_RABBIT_PORT|g; s|@NOVA_PORT@|$PEER_NOVA_PORT|g" \
			-e "s|@HOST@|$(hostname)|g; s|@INTERVAL@|$1|g" "$PEER_SRC/$f.in" >"$d/$f" || return 1
	done
}

peer_ceilometer_start() {
	local d=$PEER_DIR/ceilometer
	command -v ceilometer-polling >/dev/null || { _peer_err "ceilometer-polling is not installed"; return 1; }
	/usr/bin/python3 -c 'import libvirt' 2>/dev/null ||
		{ _peer_err "python3-libvirt is missing (ceilometer cannot reach libvirt)"; return 1; }
	(_peer_spawn notification ceilometer-agent-notification --config-file "$d/ceilometer.conf") \
		>"$d/notification.out" 2>&1 &
	PEER_NOTIF_PID=$!
	(_peer_spawn polling ceilometer-polling --polling-namespaces compute \
		--config-file "$d/ceilometer.conf") >"$d/polling.out" 2>&1 &
	PEER_POLL_PID=$!
	sleep 2
	kill -0 "$PEER_NOTIF_PID" 2>/dev/null && kill -0 "$PEER_POLL_PID" 2>/dev/null && return 0
	_peer_err "a Ceilometer agent died at start:"
	tail -n 5 "$d"/*.out "$d"/log/*.log >&2
	return 1
}

peer_exporter_start() {
	command -v prometheus-libvirt-exporter >/dev/null ||
		{ _peer_err "prometheus-libvirt-exporter is not installed"; return 1; }
	PEER_EXPORTER_PORT=$(peer_port) || { _peer_err "no free port"; return 1; }
	(_peer_spawn exporter prometheus-libvirt-exporter \
		--web.listen-address="127.0.0.1:$PEER_EXPORTER_PORT" --libvirt.uri=qemu:///system \
		--libvirt.export-nova-metadata) >"$PEER_DIR/exporter.out" 2>&1 &
	PEER_EXPORTER_PID=$!
	for _ in $(seq 50); do
		_peer_listening "$PEER_EXPORTER_PORT" && return 0
		sleep 0.1
	done
	_peer_err "the libvirt exporter did not listen: $(tail -n 3 "$PEER_DIR/exporter.out")"
	return 1
}

# Stops PID (TERM, then KILL after 10 s) and waits until it is gone.
peer_kill() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
}

peer_ceilometer_stop() {
	peer_kill "$PEER_POLL_PID"
	peer_kill "$PEER_NOTIF_PID"
	PEER_POLL_PID= PEER_NOTIF_PID=
}

peer_stop_all() {
	peer_ceilometer_stop
	peer_kill "$PEER_EXPORTER_PID"
	peer_kill "$PEER_NOVA_PID"
	peer_kill "$PEER_RABBIT_PID"
	peer_kill "$PEER_EPMD_PID"
	PEER_EXPORTER_PID= PEER_NOVA_PID= PEER_RABBIT_PID= PEER_EPMD_PID=
}
