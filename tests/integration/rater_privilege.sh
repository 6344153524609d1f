#!/usr/bin/env bash
# Checks that hvrater serve gives up root: started as root with [rater] user = a throwaway system account, it runs with that uid and gid only, no capabilities (CapEff, CapPrm, CapBnd 0) and NoNewPrivs 1 while it completes TLS handshakes and stores an agent's batches; the store it creates belongs to that account; root without a user is refused; started as that user directly it just runs.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/libvirt.sh
. tests/lib/agent.sh
. tests/lib/certs.sh
. tests/lib/uplink.sh
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (starts the rater as root, adds a user)"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl CLI to make test certificates"; exit 77; }
command -v useradd >/dev/null || { echo "SKIP: no useradd to make a throwaway account"; exit 77; }
HV_TMP=$(mktemp -d /tmp/hvt-rrp.XXXXXX)
LV_DIR=$HV_TMP
RUSER=hvt-rr-$$
PID2=
cleanup() {
	agent_cleanup
	rater_stop KILL
	[ -z "$PID2" ] || { kill -KILL "$PID2" 2>/dev/null; wait "$PID2" 2>/dev/null; }
	userdel "$RUSER" 2>/dev/null
	[ -n "${HV_KEEP:-}" ] || rm -rf "$HV_TMP"
}
trap cleanup EXIT
fails=0
check() { # check DESCRIPTION CONDITION...
	local what=$1; shift
	if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
# status_field PID FIELD: the value of FIELD in /proc/PID/status, blanks squeezed
status_field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '[:space:]' ' ' | sed 's/ $//'; }

why=$(uplink_supported) || { echo "SKIP: $why"; exit 77; }
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
	--user-group "$RUSER" || { echo "SKIP: useradd $RUSER failed"; exit 77; }
UID_R=$(id -u "$RUSER") GID_R=$(id -g "$RUSER")
echo "throwaway account $RUSER: uid $UID_R, gid $GID_R"
certs_make "$HV_TMP/pki" test-a || exit 1

# 1. root without a user: refused, nothing listens
RATER_PORT=$(uplink_port) || exit 1
RATER_USER=
if rater_start allow_root=no 2>/dev/null; then
	check "root without [rater] user is refused" false
	rater_stop
else
	check "root without [rater] user is refused" grep -q 'started as root without \[rater\] user' "$HV_TMP/rater.log"
fi

# 2. root with user = the throwaway account
rm -rf "$HV_TMP/rater.store"
RATER_USER=$RUSER
rater_start log_level=debug || exit 1
P=$RATER_PID
echo "rater pid $P: Uid $(status_field "$P" Uid) Gid $(status_field "$P" Gid) Groups '$(status_field "$P" Groups)'"
echo "  CapEff $(status_field "$P" CapEff) CapPrm $(status_field "$P" CapPrm) CapBnd $(status_field "$P" CapBnd) NoNewPrivs $(status_field "$P" NoNewPrivs)"
check_unprivileged() { # check_unprivileged WHEN
	check "$1: Uid (real, effective, saved, fs) all $UID_R" [ "$(status_field "$P" Uid)" = "$UID_R $UID_R $UID_R $UID_R" ]
	check "$1: Gid all $GID_R" [ "$(status_field "$P" Gid)" = "$GID_R $GID_R $GID_R $GID_R" ]
	check "$1: supplementary groups only $GID_R" [ "$(status_field "$P" Groups)" = "$GID_R" ]
	check "$1: CapEff 0" [ "$(status_field "$P" CapEff)" = 0000000000000000 ]
	check "$1: CapPrm 0" [ "$(status_field "$P" CapPrm)" = 0000000000000000 ]
	check "$1: CapBnd 0 (nothing regained by exec)" [ "$(status_field "$P" CapBnd)" = 0000000000000000 ]
	check "$1: NoNewPrivs 1" [ "$(status_field "$P" NoNewPrivs)" = 1 ]
}
check_unprivileged "after start"
check "the log names the account it runs as" grep -q "as user $RUSER (uid $UID_R" "$HV_TMP/rater.log"
check "the store it created belongs to $RUSER" \
	[ "$(stat -c %U "$HV_TMP/rater.store")/$(stat -c %U "$HV_TMP/rater.store/data.mdb")/$(stat -c %U "$HV_TMP/rater.store/lock.mdb")" = "$RUSER/$RUSER/$RUSER" ]

# a real agent ships batches over mutual TLS to the unprivileged rater
lv_up || { echo "SKIP: libvirtd cannot run here"; exit 77; }
uplink_agent_start a interval=1 uplink.timeout=5 || exit 1
deadline=$((SECONDS + 60))
until s=$(rater_host_field test-a last_seq) && [ -n "$s" ] && [ "$s" -ge 3 ]; do
	[ "$SECONDS" -lt "$deadline" ] || break
	sleep 0.5
done
check "the unprivileged rater completed the handshake (host test-a connected)" \
	grep -q 'host test-a connected' "$HV_TMP/rater.log"
check "the unprivileged rater stored the agent's frames (up to seq ${s:-none} >= 3)" [ "${s:-0}" -ge 3 ]
ack=$(agent_ack_seq a)
check "the agent got acknowledgements (ack seq ${ack:-none} >= 1)" [ "${ack:-0}" -ge 1 ]
check "the rater is the same process as at start" kill -0 "$P"
check_unprivileged "after ingesting"
agent_stop a
rater_stop TERM
check "it stopped cleanly on SIGTERM" grep -q 'stopped' "$HV_TMP/rater.log"

# 3. started as the account itself: no switch, it just runs (and sheds nothing it had)
mkdir -p "$HV_TMP/own" && cp "$HV_TMP/pki/rater.key" "$HV_TMP/own/rater.key" &&
	chown -R "$RUSER:" "$HV_TMP/own" && chmod 700 "$HV_TMP/own" && chmod o+x "$HV_TMP" || exit 1
chmod o+r "$HV_TMP/pki/ca.pem" "$HV_TMP/pki/rater.pem" && chmod o+x "$HV_TMP/pki" || exit 1
PORT2=$(uplink_port) || exit 1
sed -e "s|^listen = .*|listen = 127.0.0.1:$PORT2|" -e "s|^store = .*|store = $HV_TMP/own/store|" \
	-e "s|^key = .*|key = $HV_TMP/own/rater.key|" "$HV_TMP/rater.conf" >"$HV_TMP/own/rater.conf"
setpriv --reuid="$UID_R" --regid="$GID_R" --clear-groups -- \
	"$HVRATER" serve -c "$HV_TMP/own/rater.conf" >"$HV_TMP/own.log" 2>&1 &
PID2=$!
for _ in $(seq 50); do grep -q 'listening on' "$HV_TMP/own.log" && break; sleep 0.1; done
check "started as $RUSER it listens" grep -q "listening on 127.0.0.1:$PORT2.*as uid $UID_R, no capabilities" "$HV_TMP/own.log"
check "started as $RUSER: Uid $UID_R, NoNewPrivs 1" \
	[ "$(status_field "$PID2" Uid | cut -d' ' -f1)/$(status_field "$PID2" NoNewPrivs)" = "$UID_R/1" ]
kill -TERM "$PID2"; wait "$PID2" 2>/dev/null; PID2=
[ "$fails" -eq 0 ] || { echo "rater log:"; tail -n 20 "$HV_TMP/rater.log"; }
[ "$fails" -eq 0 ]
