#!/usr/bin/env bash
# Regenerates the TLS fixtures of the TCP transport tests (test/transport/tcp/certs):
# a cluster CA; certificates for nodes a, b, c naming their ids (subjectAltName DNS);
# and the wrong ones the tests must refuse: a certificate for "a" from another CA, and
# one from the right CA naming "mallory". For the KV servers' client port, a CA of its
# own (client-ca): the port's certificate (client-port, also naming 127.0.0.1, which
# clients check) and a client's (client-1); a client certificate must never pass as a
# peer's, nor as a server's. Test-only keys, valid for 100 years.
# Usage: bash scripts/make-test-certs.sh   (needs openssl; the outputs are committed)
set -euo pipefail
out="$(dirname "$0")/../test/transport/tcp/certs"
mkdir -p "$out"
cd "$out"
days=36500

ca() { # name
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
    -keyout "$1.key" -out "$1.crt" -subj "/CN=$1" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() { # file-name node-id ca [more subjectAltName entries]
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf 'subjectAltName=DNS:%s%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' "$2" "${4:+,$4}" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days "$days" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca
ca rogue-ca
ca client-ca
for id in a b c; do leaf "$id" "$id" ca; done
leaf rogue-a a rogue-ca
leaf mallory mallory ca
leaf client-port synod-kv client-ca IP:127.0.0.1
leaf client-1 client-1 client-ca
rm -f ./*.srl ca.key rogue-ca.key client-ca.key
echo "certificates written to $out"
