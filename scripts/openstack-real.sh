#!/usr/bin/env bash
# A real OpenStack Zed (Debian 12 packages) on loopback, for the `openstack_real` tests:
# Keystone, Glance, Placement, Nova (the fake virt driver), Neutron (ML2/linuxbridge, no
# DHCP or L3 agent), optionally Blazar 10.0.0 (PyPI, in a venv over Debian's libraries).
#
# Usage (as root):  scripts/openstack-real.sh install [--blazar] | up [--blazar] | down | status
#   install  installs what is missing (apt-get; pip for Blazar): needs the network, so run
#          it outside scripts/isolated.sh (scripts/ci-openstack-real.sh does)
#   up     installs what is missing, writes configs and databases
#          under the state directory, starts every service by hand (no systemd), waits until
#          ready, seeds images, flavors and the external network, writes clouds.yaml and
#          openrc files, and prints the state directory. Idempotent: a fixture already up
#          is left as it is (`--blazar` adds Blazar to it); a broken one is rebuilt.
#   down   stops every process it started (by the PIDs it recorded, checked against their
#          start times), then removes the state directory. Nothing is left but the packages
#          and the Blazar venv.
#   status says what runs.
# Fixed loopback ports (3306 4369 5000 5672 8774 8778 9292 9696 25672, Blazar 1234): run it
# inside scripts/isolated.sh so that it never collides with anything on the machine:
#   bash scripts/isolated.sh bash scripts/ci-openstack-real.sh
# Environment: BEDFORM_OS_REAL_STATE (default /var/tmp/bedform-openstack-real),
# BEDFORM_OS_REAL_BLAZAR_VENV (default /var/tmp/bedform-openstack-real-blazar).
# Recipe and measurements: docs/openstack.md ("The real OpenStack fixture").
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${BEDFORM_OS_REAL_STATE:-/var/tmp/bedform-openstack-real}
BLAZAR_VENV=${BEDFORM_OS_REAL_BLAZAR_VENV:-/var/tmp/bedform-openstack-real-blazar}
ETC=$STATE/etc LOG=$STATE/log RUN=$STATE/run LIB=$STATE/lib
HOST=127.0.0.1
PASSWORD=${BEDFORM_OS_REAL_PASSWORD:-fixture-secret}   # a throwaway fixture, loopback only
KEYSTONE_PORT=5000 GLANCE_PORT=9292 PLACEMENT_PORT=8778 NOVA_PORT=8774 NEUTRON_PORT=9696
BLAZAR_PORT=1234 MYSQL_PORT=3306 RABBIT_PORT=5672 RABBIT_DIST_PORT=25672 EPMD_PORT=4369
PY=/usr/bin/python3                                    # Debian's, never a pyenv shim
PACKAGES=(keystone python3-openstackclient glance-api placement-api nova-api nova-conductor
  nova-scheduler python3-nova neutron-server neutron-linuxbridge-agent mariadb-server
  rabbitmq-server python3-pymysql uwsgi-core uwsgi-plugin-python3 python3-venv
  python3-blazarclient sudo)
SERVICES=(mysqld epmd rabbitmq keystone glance-api placement neutron-server neutron-agent
  nova-api nova-conductor nova-scheduler nova-compute blazar-api blazar-manager)
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "openstack-real: $*"; }
die() { echo "openstack-real: $*" >&2; exit 1; }
timing() {  # kept in the state's timings.txt once the fixture has one
  local line; line=$(printf '%-44s %7s s' "$1" "$(since "$2")")
  echo "$line"; [ ! -d "$RUN" ] || echo "$line" >> "$STATE/timings.txt"
}

# -- processes: one session per service, recorded as "pid starttime" ---------------------
start_time() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }
session_of() { awk '{ sub(/^.*\) /, ""); print $4 }' "/proc/$1/stat" 2>/dev/null; }
alive() {  # a process that has not exited (a zombie whose parent does not reap it has)
  local state
  state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) &&
    [ -n "$state" ] && [ "$state" != Z ]
}
recorded_pid() {  # the PID of service $1 if it is still the process we started
  local pid started
  [ -f "$RUN/$1.pid" ] || return 1
  read -r pid started < "$RUN/$1.pid" || return 1
  [ -n "$pid" ] && [ "$(start_time "$pid")" = "$started" ] && alive "$pid" && echo "$pid"
}
running() { recorded_pid "$1" >/dev/null; }
spawn() {  # spawn NAME command...: a new session whose leader is the recorded PID
  local name=$1; shift
  setsid "$@" >>"$LOG/$name.out" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid $(start_time "$pid")" > "$RUN/$name.pid"
}
wait_until() {  # wait_until SECONDS WHAT command...: bounded, says what it waits for
  local limit=$1 what=$2 t0; shift 2
  t0=$(date +%s)
  until "$@" 2>/dev/null; do
    if [ $(( $(date +%s) - t0 )) -ge "$limit" ]; then
      die "gave up after ${limit}s waiting for $what (logs: $LOG)"
    fi
    sleep 0.3
  done
}
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
log_has() { grep -q "$2" "$LOG/$1" 2>/dev/null; }

# -- install ------------------------------------------------------------------------------
install_packages() {
  local missing=() pkg t0
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    t0=$(now)
    # The packages' services must not start (Debian containers ship this file already).
    local added=0
    [ -e /usr/sbin/policy-rc.d ] || {
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
      added=1; }
    # nova-compute is deliberately absent: it pulls a hypervisor (libvirt, qemu, systemd);
    # the compute service runs from python3-nova with the fake driver instead.
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    [ $added = 0 ] || rm -f /usr/sbin/policy-rc.d
    timing "install ${#missing[@]} packages (apt-get)" "$t0"
  fi
}

install_blazar() {
  [ -x "$BLAZAR_VENV/bin/blazar-manager" ] && return 0
  local t0; t0=$(now)
  # Not packaged in Debian 12: the Zed release from PyPI, its dependencies from Debian.
  $PY -m venv --system-site-packages "$BLAZAR_VENV"
  "$BLAZAR_VENV/bin/pip" install -q --no-deps 'blazar==10.0.0'
  timing "install blazar 10.0.0 (pip, venv)" "$t0"
}

# -- configuration ------------------------------------------------------------------------
db_url() { echo "mysql+pymysql://os:$PASSWORD@$HOST:$MYSQL_PORT/$1"; }
service_auth() {  # a [keystone_authtoken]-style section for the service user $1
  cat <<EOF
auth_type = password
auth_url = http://$HOST:$KEYSTONE_PORT/v3
www_authenticate_uri = http://$HOST:$KEYSTONE_PORT/v3
username = $1
password = $PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
EOF
}
uwsgi_ini() {  # uwsgi_ini PORT WSGI-FILE ENV: one process, 8 threads, as root
  cat <<EOF
[uwsgi]
plugins = python3
http-socket = $HOST:$1
master = true
processes = 1
threads = 8
enable-threads = true
lazy-apps = true
die-on-term = true
buffer-size = 65535
# uwsgi's http-socket resets reused connections: make clients open a new one each time
add-header = Connection: close
wsgi-file = $2
env = $3
EOF
}

write_configs() {
  mkdir -p "$ETC"/{mysql,keystone,glance,placement,nova,neutron,blazar} \
    "$LIB"/{mysql,keystone,glance/images,glance/staging,nova/instances,neutron,locks,rabbitmq}
  local rabbit="rabbit://guest:guest@$HOST:$RABBIT_PORT/"
  cat > "$ETC/mysql/my.cnf" <<EOF
[mysqld]
datadir = $LIB/mysql
socket = $RUN/mysqld.sock
pid-file = $RUN/mysqld.real.pid
port = $MYSQL_PORT
bind-address = $HOST
user = root
skip-name-resolve
performance_schema = off
innodb_buffer_pool_size = 64M
max_connections = 500
log-error = $LOG/mysqld.err
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
[client]
socket = $RUN/mysqld.sock
EOF
  cat > "$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
log_dir = $LOG
log_file = keystone.log
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $LIB/keystone/fernet-keys
[fernet_receipts]
key_repository = $LIB/keystone/fernet-keys
[credential]
key_repository = $LIB/keystone/credential-keys
EOF
  uwsgi_ini $KEYSTONE_PORT /usr/bin/keystone-wsgi-public \
    "OS_KEYSTONE_CONFIG_DIR=$ETC/keystone" > "$ETC/keystone/uwsgi.ini"
  cat > "$ETC/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = $HOST
bind_port = $GLANCE_PORT
workers = 1
log_dir = $LOG
log_file = glance-api.log
node_staging_uri = file://$LIB/glance/staging
[database]
connection = $(db_url glance)
[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = $LIB/glance/images
[keystone_authtoken]
$(service_auth glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $LIB/locks
EOF
  cat > "$ETC/placement/placement.conf" <<EOF
[DEFAULT]
log_dir = $LOG
log_file = placement-api.log
[placement_database]
connection = $(db_url placement)
[api]
auth_strategy = keystone
[keystone_authtoken]
$(service_auth placement)
EOF
  uwsgi_ini $PLACEMENT_PORT /usr/bin/placement-api \
    "OS_PLACEMENT_CONFIG_DIR=$ETC/placement" > "$ETC/placement/uwsgi.ini"
  cat > "$ETC/nova/nova.conf" <<EOF
[DEFAULT]
host = bedform-host
my_ip = $HOST
transport_url = $rabbit
compute_driver = fake.FakeDriver
enabled_apis = osapi_compute
osapi_compute_listen = $HOST
osapi_compute_listen_port = $NOVA_PORT
osapi_compute_workers = 1
state_path = $LIB/nova
instances_path = $LIB/nova/instances
log_dir = $LOG
[api]
auth_strategy = keystone
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[filter_scheduler]
available_filters = nova.scheduler.filters.all_filters
[keystone_authtoken]
$(service_auth nova)
[placement]
$(service_auth placement)
[neutron]
$(service_auth neutron)
[glance]
region_name = RegionOne
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[oslo_concurrency]
lock_path = $LIB/locks
[vnc]
enabled = false
[oslo_messaging_notifications]
driver = noop
EOF
  # nova-compute has no database access
  sed -e '/^\[api_database\]/,/^connection/d' -e '/^\[database\]/,/^connection/d' \
    "$ETC/nova/nova.conf" > "$ETC/nova/nova-compute.conf"
  cat > "$ETC/neutron/neutron.conf" <<EOF
[DEFAULT]
host = bedform-host
core_plugin = ml2
service_plugins = router
bind_host = $HOST
bind_port = $NEUTRON_PORT
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 1
auth_strategy = keystone
transport_url = $rabbit
state_path = $LIB/neutron
allow_overlapping_ips = true
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
api_paste_config = /etc/neutron/api-paste.ini
log_dir = $LOG
[database]
connection = $(db_url neutron)
[keystone_authtoken]
$(service_auth neutron)
[nova]
$(service_auth nova)
[oslo_concurrency]
lock_path = $LIB/locks
[agent]
root_helper = sudo /usr/bin/neutron-rootwrap /etc/neutron/rootwrap.conf
[oslo_messaging_notifications]
driver = noop
[experimental]
linuxbridge = true
EOF
  cat > "$ETC/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = local,flat,vlan
tenant_network_types = local
mechanism_drivers = linuxbridge
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[securitygroup]
enable_security_group = true
firewall_driver = noop
EOF
  # The L2 agent maps no interface, has no VXLAN and no firewall: it touches nothing on
  # the host and exists so that ML2 can bind the ports Nova asks for.
  cat > "$ETC/neutron/linuxbridge_agent.ini" <<EOF
[linux_bridge]
physical_interface_mappings =
[vxlan]
enable_vxlan = false
[securitygroup]
enable_security_group = true
firewall_driver = noop
[agent]
polling_interval = 2
EOF
  cat > "$ETC/blazar/blazar.conf" <<EOF
[DEFAULT]
host = $HOST
port = $BLAZAR_PORT
transport_url = $rabbit
log_dir = $LOG
os_auth_host = $HOST
os_auth_port = $KEYSTONE_PORT
os_auth_version = v3
os_admin_username = blazar
os_admin_password = $PASSWORD
os_admin_project_name = service
os_region_name = RegionOne
[manager]
plugins = physical.host.plugin
[database]
connection = $(db_url blazar)
[keystone_authtoken]
$(service_auth blazar)
[nova]
aggregate_freepool_name = freepool
[oslo_messaging_notifications]
driver = noop
EOF
  # Chameleon lets its users read the hosts and their allocations (its host calendar,
  # python-chi's hardware listing); upstream Blazar keeps them to admins
  cat > "$ETC/blazar/policy.yaml" <<EOF
"blazar:oshosts:get": ""
"blazar:oshosts:get_allocations": ""
EOF
}

# -- start --------------------------------------------------------------------------------
start_mysql() {
  running mysqld && return 0
  [ -d "$LIB/mysql/mysql" ] || mariadb-install-db --defaults-file="$ETC/mysql/my.cnf" \
    --auth-root-authentication-method=socket > "$LOG/mysql-install.log"
  spawn mysqld /usr/sbin/mariadbd --defaults-file="$ETC/mysql/my.cnf"
  wait_until 60 "MariaDB on port $MYSQL_PORT" port_open $MYSQL_PORT
  local db sql="CREATE USER IF NOT EXISTS 'os'@'$HOST' IDENTIFIED BY '$PASSWORD';"
  for db in keystone glance placement nova_api nova nova_cell0 neutron blazar; do
    sql+="CREATE DATABASE IF NOT EXISTS $db; GRANT ALL ON $db.* TO 'os'@'$HOST';"
  done
  mariadb --defaults-file="$ETC/mysql/my.cnf" -uroot -e "$sql FLUSH PRIVILEGES;"
}

start_rabbitmq() {
  running rabbitmq && return 0
  spawn epmd /usr/bin/epmd -address $HOST -port $EPMD_PORT
  wait_until 20 "epmd on port $EPMD_PORT" port_open $EPMD_PORT
  mkdir -p "$LOG/rabbitmq"
  printf '[].\n' > "$ETC/rabbitmq-enabled-plugins"
  printf 'listeners.tcp.default = %s:%s\n' $HOST $RABBIT_PORT > "$ETC/rabbitmq.conf"
  local dist="-kernel inet_dist_use_interface {127,0,0,1}"
  HOME=$LIB/rabbitmq RABBITMQ_HOME=/usr/lib/rabbitmq RABBITMQ_NODENAME=rabbit@localhost \
  RABBITMQ_NODE_IP_ADDRESS=$HOST RABBITMQ_NODE_PORT=$RABBIT_PORT \
  RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT RABBITMQ_MNESIA_BASE=$LIB/rabbitmq/mnesia \
  RABBITMQ_LOG_BASE=$LOG/rabbitmq RABBITMQ_PID_FILE=$RUN/rabbitmq.real.pid \
  RABBITMQ_CONFIG_FILE=$ETC/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$ETC/rabbitmq-enabled-plugins \
  RABBITMQ_CTL_ERL_ARGS="$dist" RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$dist" \
  ERL_EPMD_ADDRESS=$HOST ERL_EPMD_PORT=$EPMD_PORT \
    spawn rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
  wait_until 120 "RabbitMQ on port $RABBIT_PORT" port_open $RABBIT_PORT
}

keystone_up() { curl -sf -o /dev/null "http://$HOST:$KEYSTONE_PORT/v3"; }
start_keystone() {
  running keystone && return 0
  local manage="keystone-manage --config-file $ETC/keystone/keystone.conf"
  if [ ! -d "$LIB/keystone/fernet-keys" ]; then
    $manage db_sync
    $manage fernet_setup --keystone-user root --keystone-group root
    $manage credential_setup --keystone-user root --keystone-group root
    $manage bootstrap --bootstrap-password "$PASSWORD" --bootstrap-region-id RegionOne \
      --bootstrap-admin-url "http://$HOST:$KEYSTONE_PORT/v3/" \
      --bootstrap-internal-url "http://$HOST:$KEYSTONE_PORT/v3/" \
      --bootstrap-public-url "http://$HOST:$KEYSTONE_PORT/v3/"
  fi >> "$LOG/setup.log" 2>&1
  spawn keystone uwsgi --ini "$ETC/keystone/uwsgi.ini"
  wait_until 60 "Keystone on port $KEYSTONE_PORT" keystone_up
}

helper() { OS_PASSWORD=$PASSWORD $PY "$HERE/openstack-real.py" --state "$STATE" "$@"; }

sync_databases() {
  [ -f "$RUN/synced" ] && return 0
  local nova="nova-manage --config-file $ETC/nova/nova.conf"
  {
    glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync
    OS_PLACEMENT_CONFIG_DIR=$ETC/placement placement-manage \
      --config-file "$ETC/placement/placement.conf" db sync
    $nova api_db sync
    $nova cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)"
    $nova cell_v2 list_cells | grep -q ' cell1 ' || $nova cell_v2 create_cell --name cell1
    $nova db sync
    neutron-db-manage --config-file "$ETC/neutron/neutron.conf" \
      --config-file "$ETC/neutron/ml2_conf.ini" upgrade heads
  } >> "$LOG/setup.log" 2>&1 || die "a database sync failed (see $LOG/setup.log)"
  touch "$RUN/synced"
}

agent_identity_link() {
  # The linuxbridge agent names itself after the MAC of the first link it finds and exits
  # when there is none (a fresh network namespace has only lo): give it a link of its own.
  ip -o link | grep -v ' lo:' | grep -q 'link/ether' && return 0
  ip link add osreal0 type veth peer name osreal1   # (no dummy module here)
  echo osreal0 >> "$RUN/links-created"
}

compute_registered() { log_has nova-compute.log "Compute node record created\|Created resource provider record"; }
start_services() {
  local nova="--config-file $ETC/nova/nova.conf"
  local neutron="--config-file $ETC/neutron/neutron.conf --config-file $ETC/neutron/ml2_conf.ini"
  running glance-api || spawn glance-api glance-api --config-file "$ETC/glance/glance-api.conf"
  running placement || spawn placement uwsgi --ini "$ETC/placement/uwsgi.ini"
  # shellcheck disable=SC2086
  running neutron-server || spawn neutron-server neutron-server $neutron \
    --log-file "$LOG/neutron-server.log"
  agent_identity_link
  running neutron-agent || spawn neutron-agent neutron-linuxbridge-agent \
    --config-file "$ETC/neutron/neutron.conf" \
    --config-file "$ETC/neutron/linuxbridge_agent.ini" \
    --log-file "$LOG/neutron-linuxbridge-agent.log"
  local service
  for service in api conductor scheduler; do
    # shellcheck disable=SC2086
    running nova-$service || spawn nova-$service nova-$service $nova \
      --log-file "$LOG/nova-$service.log"
  done
  # the nova-compute package pulls a hypervisor: the same entry point from python3-nova
  running nova-compute || spawn nova-compute $PY -c \
    'import sys; from nova.cmd.compute import main; sys.exit(main())' \
    --config-file "$ETC/nova/nova-compute.conf" --log-file "$LOG/nova-compute.log"
  local port
  for port in $GLANCE_PORT $PLACEMENT_PORT $NEUTRON_PORT $NOVA_PORT; do
    wait_until 180 "an API on port $port" port_open "$port"
  done
  wait_until 180 "nova-compute to register (log/nova-compute.log)" compute_registered
  nova-manage $nova cell_v2 discover_hosts >> "$LOG/setup.log" 2>&1
  wait_until 180 "the linuxbridge agent (log/neutron-linuxbridge-agent.log)" \
    log_has neutron-linuxbridge-agent.log "Agent initialized successfully"
}

start_blazar() {
  local config="--config-file $ETC/blazar/blazar.conf"
  if [ ! -f "$RUN/blazar-synced" ]; then
    # migrations before the manager starts (it would create the tables itself)
    # shellcheck disable=SC2086
    "$BLAZAR_VENV/bin/blazar-db-manage" $config upgrade head >> "$LOG/setup.log" 2>&1 ||
      die "blazar-db-manage failed (see $LOG/setup.log)"
    helper freepool   # the physical host plugin needs Nova's aggregate "freepool"
    touch "$RUN/blazar-synced"
  fi
  # shellcheck disable=SC2086
  running blazar-api || spawn blazar-api "$BLAZAR_VENV/bin/blazar-api" $config \
    --log-file "$LOG/blazar-api.log"
  # shellcheck disable=SC2086
  running blazar-manager || spawn blazar-manager "$BLAZAR_VENV/bin/blazar-manager" $config \
    --log-file "$LOG/blazar-manager.log"
  wait_until 60 "Blazar on port $BLAZAR_PORT" port_open $BLAZAR_PORT
  helper blazar-host   # through blazar-api and an RPC to blazar-manager: both work
}

# -- stop ---------------------------------------------------------------------------------
fixture_pids() {  # every live process we started: the recorded session leaders, the
  # processes of their sessions, and daemons that left them but run our configuration
  local name pid sessions=" " proc
  for name in "${SERVICES[@]}"; do
    pid=$(recorded_pid "$name") && sessions+="$pid "
  done
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] || ! alive "$pid" && continue
    case "$sessions" in *" $pid "*|*" $(session_of "$pid") "*) echo "$pid"; continue ;; esac
    tr '\0' ' ' < "$proc/cmdline" 2>/dev/null | grep -qF -- "--config-file $ETC/" && echo "$pid"
  done
}

stop_all() {
  [ -d "$RUN" ] || return 0
  local pids pid i
  mapfile -t pids < <(fixture_pids)
  [ ${#pids[@]} -eq 0 ] && return 0
  say "stopping ${#pids[@]} processes"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for i in $(seq 1 100); do   # up to 20 s: neutron-server waits for its workers
    local alive=0
    for pid in "${pids[@]}"; do alive "$pid" && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do
    alive "$pid" && { say "kill -9 $pid"; kill -KILL "$pid" 2>/dev/null || true; }
  done
  for i in $(seq 1 25); do [ -z "$(fixture_pids)" ] && break; sleep 0.2; done
  [ -z "$(fixture_pids)" ] || die "processes still alive: $(fixture_pids | tr '\n' ' ')"
}

remove_network_leftovers() {  # what neutron agents could have made (normally nothing)
  local name
  if [ -f "$RUN/links-created" ]; then
    while read -r name; do ip link delete "$name" 2>/dev/null || true; done < "$RUN/links-created"
  fi
  [ -f "$RUN/net-before.txt" ] || return 0
  for name in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    case $name in qrouter-*|qdhcp-*) grep -qx "netns:$name" "$RUN/net-before.txt" ||
      ip netns delete "$name" ;; esac
  done
  for name in $(ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1); do
    case $name in brq*|tap*|qr-*|qg-*|ns-*|vxlan-*) grep -qx "$name" "$RUN/net-before.txt" ||
      ip link delete "$name" ;; esac
  done
}

# -- commands -----------------------------------------------------------------------------
all_running() {
  local name
  for name in mysqld rabbitmq keystone glance-api placement neutron-server neutron-agent \
      nova-api nova-conductor nova-scheduler nova-compute; do
    running "$name" || return 1
  done
}

up() {
  local blazar=0 t0
  [ "${1:-}" = --blazar ] && blazar=1
  [ "$(id -u)" = 0 ] || die "run as root (apt-get, MariaDB as root, the L2 agent's sudo)"
  t0=$(now)
  if [ -f "$RUN/ready" ] && all_running; then
    if [ $blazar = 1 ] && ! running blazar-manager; then
      install_blazar; start_blazar; touch "$RUN/blazar"; helper clouds
    fi
    say "already up; state in $STATE"
    echo "export OS_CLIENT_CONFIG_FILE=$STATE/clouds.yaml OS_CLOUD=bedform-real"
    return 0
  fi
  [ -d "$STATE" ] && { say "a previous fixture is incomplete: removing it"; down; }
  mkdir -p "$ETC" "$LOG" "$RUN" "$LIB"
  chmod 700 "$STATE"
  { ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1
    ip netns list 2>/dev/null | awk '{print "netns:"$1}'; } > "$RUN/net-before.txt"
  install_packages
  [ $blazar = 1 ] && install_blazar
  local t1; t1=$(now)
  write_configs
  start_mysql;    timing "mariadb" "$t1"; t1=$(now)
  start_keystone; timing "keystone (db sync, bootstrap, start)" "$t1"; t1=$(now)
  helper register;  timing "service users, endpoints, test project" "$t1"; t1=$(now)
  sync_databases; timing "glance, placement, nova, neutron db syncs" "$t1"; t1=$(now)
  start_rabbitmq; timing "rabbitmq" "$t1"; t1=$(now)
  start_services; timing "glance, placement, nova, neutron ready" "$t1"; t1=$(now)
  helper seed;    timing "images, flavors, external network" "$t1"
  if [ $blazar = 1 ]; then
    t1=$(now); start_blazar; touch "$RUN/blazar"; timing "blazar" "$t1"
  fi
  helper clouds
  touch "$RUN/ready"
  timing "up (total)" "$t0"
  say "up; state in $STATE"
  echo "export OS_CLIENT_CONFIG_FILE=$STATE/clouds.yaml OS_CLOUD=bedform-real"
}

down() {
  local t0; t0=$(now)
  [ -d "$STATE" ] || { say "nothing to stop"; return 0; }
  stop_all
  remove_network_leftovers
  rm -rf "$STATE"
  say "down in $(since "$t0") s; removed $STATE"
}

status() {
  local name pid
  [ -d "$STATE" ] || { say "down"; return 0; }
  for name in "${SERVICES[@]}"; do
    if pid=$(recorded_pid "$name"); then echo "  $name: pid $pid"
    elif [ -f "$RUN/$name.pid" ]; then echo "  $name: dead"; fi
  done
  [ -f "$RUN/ready" ] && all_running && say "up; state in $STATE" || say "not ready"
}

install() {
  [ "$(id -u)" = 0 ] || die "run as root (apt-get)"
  install_packages
  [ "${1:-}" != --blazar ] || install_blazar
}

case ${1:-} in
  install) shift; install "$@" ;;
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 install [--blazar] | up [--blazar] | down | status" >&2; exit 2 ;;
esac
