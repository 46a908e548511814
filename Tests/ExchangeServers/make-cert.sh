#!/usr/bin/env bash
# A throwaway CA and a server certificate for 127.0.0.1 and localhost, signed by it, in DIR:
#   ca.pem (what clients trust), cert.pem and key.pem (what the servers present).
set -euo pipefail
dir=${1:?usage: make-cert.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -f cert.pem ] && [ -f key.pem ] && [ -f ca.pem ] && exit 0
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Mailroom Exchange test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.pem >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout key.pem -out server.csr >/dev/null 2>&1
cat > server.ext <<EXT
subjectAltName=DNS:localhost,IP:127.0.0.1
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile server.ext \
    -out cert.pem >/dev/null 2>&1
rm -f server.csr server.ext ca.srl ca.key
chmod 644 ca.pem cert.pem key.pem
