# shellcheck shell=bash
# halib.sh — a local PostgreSQL high-availability cluster for seald, run
# by pg_auto_failover (docs/scale-out.md says why that manager): a monitor
# and two nodes, a primary and its synchronous standby, each kept by its
# own `pg_autoctl run`.  `make run-ha` (tools/devenv.sh) and t_failover use
# it; tools/envlib.sh sources it.  Everything lives in DIR/ha:
#
#   DIR/ha/mon DIR/ha/n1 DIR/ha/n2   the monitor's and the nodes' PGDATA
#   DIR/ha/cfg DIR/ha/data DIR/ha/run  pg_autoctl's XDG config, state
#                                    and pid files
#   DIR/ha/*.log DIR/ha/*.pid        each keeper's log and pid
#   DIR/ha/ports                     "MONITOR NODE1 NODE2" (127.0.0.1)
#   DIR/pgsock                       the Unix sockets of all three
#
# pg_auto_failover names its nodes by host and port, so the three servers
# listen on 127.0.0.1 (loopback only, never another address) besides their
# Unix sockets; seald and the tools connect through the sockets.  As for
# the single cluster of tools/envlib.sh, root runs them as `postgres`.
#
# The monitor checks the nodes each second and holds a node that stopped
# answering for 2 s as failed, and a primary that no keeper confirms as
# demoted for 3 s as gone: a lost primary's standby is promoted in about
# 5-7 s (pg_auto_failover's defaults take about 40 s).  Safe for seald:
# the old primary commits nothing without its synchronous standby, and
# seald releases nothing that the standby did not confirm.

HA_MONITOR_SETTINGS="health_check_period=1000 health_check_timeout=1000
health_check_max_retries=1 health_check_retry_delay=500
node_considered_unhealthy_timeout=2000 primary_demote_timeout=3000"

# _ha_dir DIR: DIR/ha as the cluster owner reaches it (see _pg_home).
_ha_dir() {
	if [ -L "$1/ha" ]; then
		readlink "$1/ha"
	else
		printf '%s\n' "$1/ha"
	fi
}

# _ha_ctl DIR ARGS...: pg_autoctl as the owner, with DIR's XDG folders
# (its pid files too: by default in /tmp/pg_autoctl, which the first user
# to run pg_autoctl on the machine owns).
_ha_ctl() {
	local h
	h=$(_ha_dir "$1")
	shift
	_pg_as env XDG_CONFIG_HOME="$h/cfg" XDG_DATA_HOME="$h/data" \
		XDG_RUNTIME_DIR="$h/run" pg_autoctl "$@"
}

# ha_port DIR N: the port of the monitor (0) or node N (1, 2).
ha_port() {
	local p
	read -r -a p <"$(_ha_dir "$1")/ports" || return 1
	printf '%s\n' "${p[$2]}"
}

# ha_free_port: a port of 127.0.0.1 with the next two also free, for a
# cluster of the tests; fails when pg_autoctl is not installed.
ha_free_port() {
	local port
	command -v pg_autoctl >/dev/null || return 1
	for _ in $(seq 1 20); do
		port=$((20000 + RANDOM % 20000))
		ss -ltnH | awk '{print $4}' |
			grep -qE ":($port|$((port + 1))|$((port + 2)))\$" || break
	done
	echo "$port"
}

# ha_conninfo DIR [ROLE]: the libpq conninfo of database seald on the
# whole cluster: both nodes, the one that takes writes (libpq tries them
# in turn and keeps the read-write one), 2 s to connect to each.
ha_conninfo() {
	local dir
	dir=$(_envlib_abs "$1") || return 1
	printf 'host=%s/pgsock,%s/pgsock port=%s,%s dbname=seald user=%s target_session_attrs=read-write connect_timeout=2\n' \
		"$dir" "$dir" "$(ha_port "$dir" 1)" "$(ha_port "$dir" 2)" \
		"${2:-seald_daemon}"
}

# _ha_owner: the servers' owner, and their superuser's name: pg_autoctl
# connects to its server as the system user that runs it (postgres when
# root runs the cluster, else the user).
_ha_owner() {
	if _envlib_is_root; then echo postgres; else id -un; fi
}

# _ha_sql DIR PORT DB SQL: as the superuser on one server.
_ha_sql() {
	_pg_sql "$1" "dbname=$3 port=$2 connect_timeout=2 user=$(_ha_owner)" "$4"
}

# _ha_keeper DIR NAME: start `pg_autoctl run` for DIR/ha/NAME in the
# background unless it runs, in a process group of its own (the keeper,
# its services and its server), whose id goes to DIR/ha/NAME.pid.
_ha_keeper() {
	local h=$1/ha m=+m
	if [ -f "$h/$2.pid" ] && kill -0 -- "-$(cat "$h/$2.pid")" 2>/dev/null; then
		return 0
	fi
	case $- in *m*) m=-m ;; esac
	set -m
	_ha_ctl "$1" run --pgdata "$(_ha_dir "$1")/$2" >>"$h/$2.log" 2>&1 &
	echo $! >"$h/$2.pid"
	disown # ha_kill's SIGKILL is no news to report
	set $m
}

# ha_state DIR: the monitor's table of the nodes and their states.
ha_state() {
	_ha_ctl "$1" show state --pgdata "$(_ha_dir "$1")/mon" 2>&1
}

# ha_primary DIR: the node (1 or 2) that takes writes, reported and
# assigned: primary (its standby in sync) or wait_primary (no standby to
# wait for); fails when there is none.
ha_primary() {
	local n st
	for n in 1 2; do
		st=$(_ha_sql "$1" "$(ha_port "$1" 0)" pg_auto_failover \
			"select reportedstate || ' ' || goalstate from pgautofailover.node
			 where nodename = 'node$n'" 2>/dev/null)
		case "$st" in
		"primary primary" | "wait_primary wait_primary")
			echo "$n"
			return 0
			;;
		esac
	done
	return 1
}

# ha_await DIR SECONDS: wait until one node is primary and the other its
# secondary, both as assigned.
ha_await() {
	local end=$((SECONDS + $2)) s
	while [ "$SECONDS" -le "$end" ]; do
		s=$(_ha_sql "$1" "$(ha_port "$1" 0)" pg_auto_failover \
			"select string_agg(reportedstate || '/' || goalstate, ' ' order by nodename)
			 from pgautofailover.node" 2>/dev/null)
		case "$s" in
		"primary/primary secondary/secondary" | "secondary/secondary primary/primary")
			return 0 ;;
		esac
		sleep 0.5
	done
	envlib_err "no primary with its secondary after $2 s: $s"
	return 1
}

# ha_setup DIR PORT: make (once) and start the cluster: the monitor on
# PORT, the nodes on PORT+1 and PORT+2; then the database seald and its
# roles, as pg_setup makes them, on the primary (the standby replicates
# them).
ha_setup() {
	local dir h sock bin port n p
	dir=$(_envlib_abs "$1") || return 1
	port=$2
	bin=$(pg_bindir) || return 1
	command -v pg_autoctl >/dev/null || {
		envlib_err "pg_autoctl not found (make run-ha installs pg-auto-failover-cli)"
		return 1
	}
	if [ $((${#dir} + 23)) -gt 107 ]; then
		envlib_err "socket path too long for PostgreSQL: $dir/pgsock/.s.PGSQL.$port"
		return 1
	fi
	if [ ! -f "$dir/ha/ports" ]; then
		rm -rf "$dir/ha" "$dir/pgsock"
		h=$dir/ha
		sock=$dir/pgsock
		if _envlib_is_root; then
			chmod 0711 "$dir" || return 1
			if ! _pg_as test -x "$dir"; then
				# DIR's parents keep postgres out (see pg_setup)
				h=$(getent passwd postgres | cut -d: -f6)/seald-ha/$(printf '%s' "$dir" |
					sha256sum | cut -c1-16) || return 1
				sock=$h/pgsock
				rm -rf "$h" && mkdir -p "$(dirname "$h")" || return 1
				chown postgres: "$(dirname "$h")" || return 1
				ln -s "$h" "$dir/ha" && ln -s "$sock" "$dir/pgsock" || return 1
			fi
		fi
		mkdir -p "$h" "$h/run" "$sock" && chmod 0755 "$sock" &&
			chmod 0700 "$h/run" || return 1
		if _envlib_is_root; then
			chown -R postgres: "$h" "$sock" || return 1
		fi
		_ha_initdb "$dir" "$h/mon" || return 1
		if ! _ha_ctl "$dir" create monitor --pgctl "$bin/pg_ctl" \
			--pgdata "$h/mon" --pgport "$port" --hostname 127.0.0.1 \
			--listen 127.0.0.1 --auth trust --no-ssl \
			>"$dir/ha/create-mon.log" 2>&1; then
			envlib_err "pg_autoctl create monitor failed"
			_envlib_tail "$dir/ha/create-mon.log"
			return 1
		fi
		echo "$port $((port + 1)) $((port + 2))" >"$dir/ha/ports" || return 1
		_ha_keeper "$dir" mon
		_ha_ready "$dir" "$port" pg_auto_failover || return 1
		for p in $HA_MONITOR_SETTINGS; do
			_ha_sql "$dir" "$port" pg_auto_failover \
				"alter system set pgautofailover.${p%%=*} = ${p#*=}" || return 1
		done
		_ha_sql "$dir" "$port" pg_auto_failover "select pg_reload_conf()" >/dev/null ||
			return 1
		# one node after the other: the first is the primary
		for n in 1 2; do
			# the standby's comes from the primary's base backup
			[ "$n" = 2 ] || _ha_initdb "$dir" "$h/n$n" || return 1
			if ! _ha_ctl "$dir" create postgres --pgctl "$bin/pg_ctl" \
				--pgdata "$h/n$n" --pgport $((port + n)) --hostname 127.0.0.1 \
				--listen 127.0.0.1 --name "node$n" --auth trust --no-ssl \
				--pghost "$(readlink -f "$dir/pgsock")" \
				--dbname seald \
				--monitor "postgres://autoctl_node@127.0.0.1:$port/pg_auto_failover?sslmode=disable" \
				>"$dir/ha/create-n$n.log" 2>&1; then
				envlib_err "pg_autoctl create postgres (node$n) failed"
				_envlib_tail "$dir/ha/create-n$n.log"
				return 1
			fi
			_ha_keeper "$dir" "n$n"
			_ha_ready "$dir" $((port + n)) seald || return 1
		done
	else
		port=$(ha_port "$dir" 0)
		# (a cluster made before its pid files moved there)
		_pg_as mkdir -p -m 0700 "$(_ha_dir "$dir")/run" || return 1
		_ha_keeper "$dir" mon
		_ha_ready "$dir" "$port" pg_auto_failover || return 1
		_ha_keeper "$dir" n1
		_ha_keeper "$dir" n2
	fi
	ha_await "$dir" 120 || return 1
	p=$(ha_port "$dir" "$(ha_primary "$dir")") || return 1
	_ha_roles "$dir" "$p"
}

# _ha_initdb DIR PGDATA: a new cluster in PGDATA, its superuser the owner
# (_ha_owner), its Unix sockets in DIR/pgsock only.  Made here, not by pg_autoctl
# create: pg_autoctl starts the server before anything could be added to
# its configuration, and PostgreSQL's default socket folder
# (/var/run/postgresql) is for root and postgres only.  The standby's
# configuration comes with the primary's base backup.
_ha_initdb() {
	if ! _pg_as "$(pg_bindir)/initdb" -D "$2" -U "$(_ha_owner)" -E UTF8 \
		--locale=C --auth=trust >"$2.initdb.log" 2>&1; then
		envlib_err "initdb of $2 failed"
		_envlib_tail "$2.initdb.log"
		return 1
	fi
	_pg_as sh -c "cat >>'$2/postgresql.conf'" <<EOF

# seald (tools/halib.sh): Unix sockets in the environment's folder
unix_socket_directories = '$(readlink -f "$1/pgsock")'
unix_socket_permissions = 0777
EOF
}

# _ha_ready DIR PORT DB: wait (60 s) until the server answers.
_ha_ready() {
	local end=$((SECONDS + 60))
	while [ "$SECONDS" -le "$end" ]; do
		_ha_sql "$1" "$2" "$3" "select 1" >/dev/null 2>&1 && return 0
		sleep 0.3
	done
	envlib_err "the server on port $2 did not answer (logs in $1/ha)"
	return 1
}

# _ha_roles DIR PORT: seald's roles, as pg_setup makes them, on the
# primary; the database seald (made by pg_autoctl) owned by seald.
_ha_roles() {
	local r
	for r in "seald LOGIN" "seald_writer NOLOGIN" "seald_auditor NOLOGIN" \
		"seald_daemon LOGIN IN ROLE seald_writer" \
		"seald_verifier LOGIN IN ROLE seald_auditor"; do
		[ "$(_ha_sql "$1" "$2" postgres \
			"select count(*) from pg_roles where rolname = '${r%% *}'")" = 1 ] ||
			_ha_sql "$1" "$2" postgres "create role $r" || return 1
	done
	_ha_sql "$1" "$2" postgres "alter database seald owner to seald"
}

# ha_kill DIR N: node N lost as a machine is: its keeper, services and
# server killed at once (SIGKILL), nothing shut down cleanly.
ha_kill() {
	local pgid
	pgid=$(cat "$1/ha/n$2.pid" 2>/dev/null) || return 1
	kill -KILL -- "-$pgid" 2>/dev/null
	rm -f "$1/ha/n$2.pid"
}

# ha_start_node DIR N: node N's keeper again (after ha_kill: it rejoins
# as the new primary's standby).
ha_start_node() {
	_ha_keeper "$1" "n$2"
}

# ha_stop DIR: stop each keeper (it stops its server), the nodes first;
# what is left after 10 s is killed.
ha_stop() {
	local h=$1/ha name pgid
	[ -d "$h" ] || return 0
	for name in n1 n2 mon; do
		pgid=$(cat "$h/$name.pid" 2>/dev/null) || continue
		kill -TERM -- "-$pgid" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 -- "-$pgid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$pgid" 2>/dev/null
		rm -f "$h/$name.pid"
	done
	return 0
}
