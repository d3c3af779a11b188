#!/usr/bin/env bash
# A throw-away S3 server that checks SigV4 signatures: Ceph's RADOS Gateway
# on one monitor and one in-memory OSD, all on 127.0.0.1, no systemd, no root
# needed, everything under DIR. Ready in about 15 s.
#   tests/s3/rgw.sh start DIR PORT   prints "endpoint access_key secret_key"
#   tests/s3/rgw.sh stop DIR
#   tests/s3/rgw.sh gateway-stop DIR    the gateway alone killed (-9), the cluster left up
#   tests/s3/rgw.sh gateway-start DIR   the gateway started again; returns once it answers
# Ports: PORT (S3), PORT+1 and PORT+2 (monitor v2, v1), OSDs from PORT+10.
# RGW_BEAST_OPTIONS: more options for its HTTP frontend (the sync bench:
# tcp_nodelay=1).
set -euo pipefail
cmd=$1 dir=$2
stop() {
  for pid in "$dir"/run/*.pid.fg; do
    [ -e "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  sleep 0.5
  for pid in "$dir"/run/*.pid.fg; do
    [ -e "$pid" ] && kill -9 "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
}
if [ "$cmd" = stop ]; then stop; exit 0; fi
if [ "$cmd" = gateway-stop ]; then
  kill -9 "$(cat "$dir/run/rgw.pid.fg")" 2>/dev/null || true
  exit 0
fi
if [ "$cmd" = gateway-start ]; then
  port=$(sed -n 's/^rgw_frontends = beast endpoint=127.0.0.1:\([0-9]*\).*/\1/p' "$dir/ceph.conf")
  radosgw -c "$dir/ceph.conf" -n client.rgw -f >>"$dir/log/rgw.out" 2>&1 & echo $! >"$dir/run/rgw.pid.fg"
  for _ in $(seq 1 240); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/" && exit 0
    sleep 0.25
  done
  echo "rgw.sh: the gateway did not answer on $port within 60 s" >&2
  exit 1
fi
port=$3
mon2=$((port + 1)) mon1=$((port + 2)) osd_lo=$((port + 10)) osd_hi=$((port + 60))
ak=DLTESTACCESSKEY sk=dashloop-test-secret-key-0123456789
for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph-authtool monmaptool ceph; do
  command -v "$tool" >/dev/null || { echo "rgw.sh: $tool missing (scripts/setup.sh installs Ceph)" >&2; exit 1; }
done
rm -rf "$dir"
mkdir -p "$dir"/{mon,osd,rgw,run,log}
conf=$dir/ceph.conf keyring=$dir/keyring
fsid=$(cat /proc/sys/kernel/random/uuid)
cat >"$conf" <<CONF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]
public_addr = 127.0.0.1
ms_bind_ipv6 = false
ms_bind_port_min = $osd_lo
ms_bind_port_max = $osd_hi
keyring = $keyring
run_dir = $dir/run
admin_socket = $dir/run/\$name.asok
log_file = $dir/log/\$name.log
# one OSD: one replica, failure domain the OSD itself
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_data_avail_warn = 1
mon_data_avail_crit = 0
[mon]
mon_data = $dir/mon
[osd]
osd_data = $dir/osd
osd_objectstore = memstore
memstore_device_bytes = ${RGW_MEMORY_BYTES:-4294967296}
[client.rgw]
rgw_data = $dir/rgw
rgw_frontends = beast endpoint=127.0.0.1:$port${RGW_BEAST_OPTIONS:+ $RGW_BEAST_OPTIONS}
rgw_dns_name = localhost
CONF
ceph-authtool --create-keyring "$keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$keyring" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' >/dev/null
ceph-authtool "$keyring" --gen-key -n client.rgw --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$keyring" 2>>"$dir/log/setup.log"
ceph-mon -c "$conf" -i a -f >"$dir/log/mon.out" 2>&1 & echo $! >"$dir/run/mon.pid.fg"
ceph_cli="ceph -c $conf --connect-timeout 30"
$ceph_cli auth import -i "$keyring" 2>>"$dir/log/setup.log"
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
$ceph_cli osd new "$osd_uuid" >/dev/null
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" 2>>"$dir/log/setup.log"
ceph-osd -c "$conf" -i 0 -f >"$dir/log/osd.out" 2>&1 & echo $! >"$dir/run/osd.pid.fg"
wait_for() {  # SECONDS CMD...
  local n=$(($1 * 4)); shift
  until "$@" >/dev/null 2>&1; do
    n=$((n - 1)); [ "$n" -gt 0 ] || { echo "rgw.sh: timed out waiting for: $*" >&2; stop; exit 1; }
    sleep 0.25
  done
}
wait_for 120 sh -c "$ceph_cli osd stat | grep -q '1 up'"
radosgw -c "$conf" -n client.rgw -f >"$dir/log/rgw.out" 2>&1 & echo $! >"$dir/run/rgw.pid.fg"
wait_for 120 curl -sf -o /dev/null "http://127.0.0.1:$port/"
radosgw-admin -c "$conf" -n client.admin user create --uid=dashloop --display-name=dashloop \
  --access-key="$ak" --secret-key="$sk" >/dev/null
echo "http://127.0.0.1:$port $ak $sk"
