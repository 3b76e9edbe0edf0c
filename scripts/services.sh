#!/usr/bin/env bash
# Make sure the database servers the test suite uses are installed and running on 127.0.0.1:
# PostgreSQL (5432, trust auth, database "test") and MariaDB (3306, root without password,
# database "test"), and that the network tools of the cluster tests are there (ip, nft).
# Safe to run again: it only acts on what is missing or stopped.
set -uo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v mariadbd >/dev/null 2>&1 \
   && [ ! -x /usr/sbin/mariadbd ]; then
  echo "services: installing PostgreSQL and MariaDB from the distribution"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql mariadb-server >/dev/null
fi

# The several-machine cluster test (tests/cluster/test_several_machines.py) builds its machines
# with network namespaces (ip, from iproute2) and cuts links with nftables.
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
if ! has ip || ! has nft; then
  echo "services: installing iproute2 and nftables from the distribution"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq iproute2 nftables >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "services: starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
if ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  echo "services: starting MariaDB"
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- \
    --user=mysql >/dev/null 2>&1 || as_root start-stop-daemon --start --oknodo --background \
    --exec /usr/sbin/mariadbd
fi

# Wait for both, then make sure the access the tests expect is there.
for _ in $(seq 1 60); do
  pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && \
    mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p 5432 || { echo "services: PostgreSQL is not answering"; exit 1; }
mariadb-admin -h 127.0.0.1 -u root ping || { echo "services: MariaDB is not answering"; exit 1; }
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" \
  | grep -q 1 || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE test"
mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test"
exit 0
