#!/usr/bin/env bash
# Makes sure MariaDB answers on 127.0.0.1:3306 (root, empty password, database `test`) for the MySQL tests:
# installs mariadb-server when missing, starts it when down, allows root over TCP. Called by `make test` and .ci/run.
# Without root rights it can only report; with CI=true a MariaDB that cannot be had is a failure.
set -uo pipefail

mysql_up() { mariadb-admin --protocol=tcp -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1; }
fail() {
  echo "ensure-mariadb: $*" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  echo "ensure-mariadb: the MySQL tests will skip (they fail under CI=true)" >&2
  exit 0
}

if mysql_up && mariadb --protocol=tcp -h127.0.0.1 -uroot -e 'CREATE DATABASE IF NOT EXISTS test' >/dev/null 2>&1; then
  exit 0
fi
[ "$(id -u)" = 0 ] || fail "MariaDB does not answer on 127.0.0.1:3306 and starting it needs root"

if [ ! -x /usr/sbin/mariadbd ]; then
  echo ">> installing mariadb-server"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null; } ||
    fail "could not install mariadb-server"
fi
if ! mysql_up; then
  echo ">> starting MariaDB"
  install -d -o mysql -g root -m 755 /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 120); do mysql_up && break; sleep 0.5; done
fi
mysql_up || fail "MariaDB does not answer on 127.0.0.1:3306"
# root over TCP with an empty password (a fresh Debian install allows only the unix socket).
if ! mariadb --protocol=tcp -h127.0.0.1 -uroot -e 'SELECT 1' >/dev/null 2>&1; then
  mariadb --protocol=socket -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;" ||
    fail "could not allow root over TCP"
fi
mariadb --protocol=tcp -h127.0.0.1 -uroot -e 'CREATE DATABASE IF NOT EXISTS test' || fail "could not create database test"
echo ">> MariaDB ready: $(mariadb --protocol=tcp -h127.0.0.1 -uroot -N -e 'SELECT VERSION()')"
