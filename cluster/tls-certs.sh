#!/bin/sh
# tls-certs.sh DIR - certificates for the compose cluster's TLS profile
# (docker-compose.tls.yml, docs/docker.md "TLS"), made with the openssl
# command line; nothing is fetched.
#
#   ca.crt, ca.key            a CA of its own, valid 825 days
#   node1..node5.crt/.key     one per node, by the CA; names nodeN (in the
#                             compose network), localhost and 127.0.0.1 (from
#                             the host, through the published ports); usable
#                             as a server's and a client's certificate: the
#                             nodes show them to each other on raft's mutual
#                             TLS (docs/operations.md, "TLS between nodes")
#   client.crt/.key           a client certificate, by the CA, for
#                             TLS_CLIENT_AUTH optional or required
#
# EC P-256 keys. The nodes' keys are made readable by every user (0644):
# the containers run as uid 10001 and read them through a read-only bind
# mount, and a host user cannot give a file to another uid without root.
# That suits a cluster on one machine for development and tests; in
# production, use your own PKI and give the key files to uid 10001.
#
# An existing DIR/ca.key is kept, and the certificates are signed by it
# again, so the clients' ca.crt stays valid when the node certificates are
# renewed (then `docker compose kill -s HUP`).
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
command -v openssl >/dev/null || { echo "$0: openssl is not installed" >&2; exit 1; }
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

# sign NAME CN EXT: NAME.crt for NAME.key, by the CA, with the extensions EXT.
sign() {
    printf '%s\n' "$3" >"$1.ext"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -extfile "$1.ext" \
        -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

if [ ! -f ca.key ]; then
    key ca
    openssl req -x509 -new -key ca.key -subj /CN=eventflow-compose-ca -days 825 -out ca.crt
fi

for n in 1 2 3 4 5; do
    key "node$n"
    sign "node$n" "node$n" "subjectAltName=DNS:node$n,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
done
key client
sign client eventflow-client "extendedKeyUsage=clientAuth"

chmod 644 ca.crt node?.crt node?.key client.crt
chmod 755 .
echo "tls-certs.sh: CA, node1..node5 and client certificates in $dir"
