#!/bin/sh
# tls_certs.sh DIR - throwaway certificates for test_tls, made at test time
# (nothing that expires is checked in). EC P-256 keys: quick to make.
#   ca.crt                        the test CA
#   server.crt/.key               127.0.0.1, serial 0x1001, by the CA
#   server2.crt/.key              127.0.0.1, serial 0x2002, by the CA (the SIGHUP reload)
#   client.crt/.key               a client, by the CA
#   expired.crt/.key              a client, by the CA, expired in 2020
#   wrongca.crt/.key              a client, by another CA
#   big.crt/.key                  a client, by the CA, 70 KB (a 70,000-byte comment):
#                                 over the server's 64 KiB handshake bound
set -eu
dir=$1
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
csr() { openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"; }

key ca
openssl req -x509 -new -key ca.key -subj /CN=eventflow-test-ca -days 2 -out ca.crt
key other-ca
openssl req -x509 -new -key other-ca.key -subj /CN=eventflow-other-ca -days 2 -out other-ca.crt

printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
for s in server:0x1001:eventflow-server server2:0x2002:eventflow-server-reloaded; do
    name=${s%%:*}; rest=${s#*:}; serial=${rest%%:*}; cn=${rest#*:}
    key "$name"; csr "$name" "$cn"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -set_serial "$serial" -days 2 \
        -extfile server.ext -out "$name.crt" 2>/dev/null
done

key client; csr client eventflow-client
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 0x3003 -days 2 -out client.crt 2>/dev/null

key wrongca; csr wrongca eventflow-wrong-ca-client
openssl x509 -req -in wrongca.csr -CA other-ca.crt -CAkey other-ca.key -set_serial 0x4004 -days 2 \
    -out wrongca.crt 2>/dev/null

key big; csr big eventflow-big-client
printf 'nsComment=%s\n' "$(head -c 52500 /dev/urandom | base64 -w0)" >big.ext
openssl x509 -req -in big.csr -CA ca.crt -CAkey ca.key -set_serial 0x6006 -days 2 -extfile big.ext \
    -out big.crt 2>/dev/null

# openssl x509 cannot back-date: `openssl ca` can, with a minimal CA setup.
key expired; csr expired eventflow-expired-client
mkdir -p ca-db
: >ca-db/index.txt
cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = ca-db/index.txt
new_certs_dir = ca-db
serial = ca-db/serial
default_md = sha256
policy = any
[any]
commonName = supplied
CNF
echo 5005 >ca-db/serial
openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr -out expired.crt \
    -startdate 20200101000000Z -enddate 20200102000000Z -notext 2>/dev/null
