# shellcheck shell=bash
# Throwaway certificates for uplink tests, made with the openssl CLI into a
# test's temporary directory (never committed, never reused). Source it, then:
#   certs_make DIR HOST_ID...   make, in DIR:
#       ca.pem ca.key           the test CA (EC P-256), pinned by agent and rater
#       rater.pem rater.key     the rater: CN=rater, SAN DNS:localhost, IP:127.0.0.1
#       HOST_ID.pem .key        one per host: CN=HOST_ID (clientAuth)
#       ca2.pem ca2.key         a second, unrelated CA
#       foreign.pem .key        CN=<first HOST_ID> signed by ca2 (must be refused)
#       expired.pem .key        CN=<first HOST_ID> signed by ca, valid 2020-2021 only
# Keys are EC P-256: hosts sign batches with their TLS key (ECDSA).
# Returns non-zero with a message on stderr if openssl fails.

_certs_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# _certs_ca DIR NAME SUBJECT
_certs_ca() {
	_certs_key "$1/$2.key" &&
		openssl req -x509 -new -key "$1/$2.key" -subj "$3" -days 3 -sha256 \
			-addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign -out "$1/$2.pem" 2>/dev/null
}

# _certs_leaf DIR NAME CN CA EXTENSIONS
_certs_leaf() {
	local d=$1 name=$2 cn=$3 ca=$4 ext=$5
	_certs_key "$d/$name.key" &&
		openssl req -new -key "$d/$name.key" -subj "/O=hvmeter test/CN=$cn" -out "$d/$name.csr" 2>/dev/null &&
		printf '%b' "$ext" >"$d/$name.ext" &&
		openssl x509 -req -in "$d/$name.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" \
			-CAcreateserial -days 3 -sha256 -extfile "$d/$name.ext" -out "$d/$name.pem" 2>/dev/null
}

# An expired certificate: `openssl x509` cannot back-date, `openssl ca` can.
_certs_expired() {
	local d=$1 cn=$2
	mkdir -p "$d/ca-db" && : >"$d/ca-db/index.txt" && echo 1000 >"$d/ca-db/serial"
	cat >"$d/ca-db/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $d/ca-db/index.txt
serial = $d/ca-db/serial
new_certs_dir = $d/ca-db
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
[ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
	_certs_key "$d/expired.key" &&
		openssl req -new -key "$d/expired.key" -subj "/O=hvmeter test/CN=$cn" -out "$d/expired.csr" 2>/dev/null &&
		openssl ca -batch -config "$d/ca-db/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
			-startdate 20200101000000Z -enddate 20210101000000Z -extensions ext \
			-in "$d/expired.csr" -out "$d/expired.pem" >/dev/null 2>&1
}

certs_make() {
	local d=$1 first=$2 h
	shift
	command -v openssl >/dev/null || { echo "certs.sh: no openssl" >&2; return 1; }
	mkdir -p "$d" && chmod 700 "$d"
	_certs_ca "$d" ca "/O=hvmeter test/CN=hvmeter test CA" || { echo "certs.sh: CA failed" >&2; return 1; }
	_certs_ca "$d" ca2 "/O=elsewhere/CN=another CA" || { echo "certs.sh: CA 2 failed" >&2; return 1; }
	_certs_leaf "$d" rater rater ca \
		'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' ||
		{ echo "certs.sh: rater certificate failed" >&2; return 1; }
	for h in "$@"; do
		_certs_leaf "$d" "$h" "$h" ca \
			'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' ||
			{ echo "certs.sh: certificate for $h failed" >&2; return 1; }
	done
	_certs_leaf "$d" foreign "$first" ca2 \
		'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' ||
		{ echo "certs.sh: foreign certificate failed" >&2; return 1; }
	_certs_expired "$d" "$first" || { echo "certs.sh: expired certificate failed" >&2; return 1; }
	rm -f "$d"/*.csr "$d"/*.ext
}
