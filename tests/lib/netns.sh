# shellcheck shell=bash
# Test networks whose only hosts live in a network namespace. Source it, then:
#   ns_up NS BR ADDR...   netns NS; addressless bridge BR in the root
#                         namespace; a veth pair, one end on BR, the other in
#                         NS as "eth0" carrying ADDR... (e.g. 10.99.0.1/24);
#                         IPv6 stays off in NS unless an ADDR is IPv6
#   ns_down NS BR         remove both (no error if already gone)
#   ns_exec NS CMD...     run CMD inside NS
# Project rule: the root namespace never holds a test address or a route to
# one, so BR has no address and IPv6 (hence link-local addresses) off. Guests
# reach the peers through their tap on BR (lv_guest_start bridge=BR).
# The root-side veth is named "${BR}v" (BR must be <= 14 characters).

_ns_err() { echo "netns.sh: $*" >&2; }

ns_exec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

ns_up() {
	local ns=${1:-} br=${2:-} a
	[ -n "$ns" ] && [ -n "$br" ] || { _ns_err "usage: ns_up NS BR ADDR..."; return 1; }
	shift 2
	[ ${#br} -le 14 ] || { _ns_err "bridge name $br longer than 14"; return 1; }
	local veth=${br}v
	if ip netns list | awk '{ print $1 }' | grep -qxF -- "$ns" || ip link show "$br" >/dev/null 2>&1; then
		_ns_err "$ns or $br exists already (left over? ns_down $ns $br)"
		return 1
	fi
	ip netns add "$ns" || return 1
	# Create the bridge down, switch IPv6 off before it comes up, so it
	# never gets even a link-local address.
	ip link add "$br" type bridge || { ns_down "$ns" "$br"; return 1; }
	sysctl -qw "net.ipv6.conf.$br.disable_ipv6=1" 2>/dev/null
	ip link add "$veth" type veth peer name eth0 netns "$ns" ||
		{ ns_down "$ns" "$br"; return 1; }
	sysctl -qw "net.ipv6.conf.$veth.disable_ipv6=1" 2>/dev/null
	# IPv6 in NS only when asked for (an IPv6 ADDR): otherwise its router
	# solicitations and MLD reports would show up in the guests' tap counters.
	case "$*" in *:*) ;; *) ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 2>/dev/null ;; esac
	ip link set "$veth" master "$br" &&
		ip link set "$veth" up &&
		ip link set "$br" up &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" link set eth0 up || { ns_down "$ns" "$br"; return 1; }
	for a in "$@"; do
		ip -n "$ns" addr add "$a" dev eth0 || { ns_down "$ns" "$br"; return 1; }
	done
}

ns_down() {
	local ns=${1:-} br=${2:-}
	# Deleting the bridge leaves enslaved ports; the veth goes with the netns
	# (its peer is in there) or by name.
	[ -z "$br" ] || ip link del "${br}v" 2>/dev/null
	[ -z "$br" ] || ip link del "$br" 2>/dev/null
	[ -z "$ns" ] || ip netns del "$ns" 2>/dev/null
	return 0
}
