#!/bin/sh
# mayflyd's API: checks of the configuration, tokens and malformed requests
# (all answered without a machine), then the queue with max_vms below the
# number of builds, priorities, the queue limit, cancel, logs and packages.
. "$(dirname "$0")/lib.sh"

# Outside any test: the settings hold for the whole file.
write_config "max_vms = 1" "queue_max = 3" "max_request_mb = 1" "idle_timeout = 90" \
	"header_timeout = 2"

test_expect 'mayflyd -n accepts a good configuration' '
	"$MAYFLYD" -n -c "$MAYFLY_CONFIG" > "$TEST_TMP/stdout" 2>&1
	expect_stdout "configuration OK"
'

test_expect 'mayflyd -n reports every mistake with file and line' '
	printf "[daemon]\nlisten = localhost\ntoken_file = /nonexistent/tokens\n[limits]\nmax_vm = 2\nqueue_max = -1\n" > "$TEST_TMP/bad.conf"
	rc=0; "$MAYFLYD" -n -c "$TEST_TMP/bad.conf" > "$TEST_TMP/stderr" 2>&1 || rc=$?
	expect_rc 2
	expect_stderr "bad.conf:2: .listen. must be HOST:PORT"
	expect_stderr "bad.conf:5: unknown key .max_vm. in \[limits\]; did you mean .max_vms.?"
	expect_stderr "bad.conf:6: .queue_max. must be between 1 and"
'

test_expect 'register the test guest and start mayflyd (max_vms 1, queue_max 3)' '
	add_testguest tg >/dev/null 2>&1
	start_daemon
'

test_expect 'a second mayflyd on the same state directory is refused' '
	rc=0; "$MAYFLYD" -c "$MAYFLY_CONFIG" > "$TEST_TMP/stderr" 2>&1 || rc=$?
	expect_rc 2
	expect_stderr "another mayflyd (pid $(daemon_pid)) already serves"
'

test_expect '/healthz answers without a token' '
	daemon_env
	code=$(curl -s -o "$TEST_TMP/stdout" -w "%{http_code}" "$MAYFLY_URL/healthz")
	expect_code 200
	expect_eq "$(json_field .status)" ok
	expect_eq "$(json_field .max_vms)" 1
'

test_expect 'no token or a wrong token: 401' '
	daemon_env
	code=$(curl -s -o "$TEST_TMP/stdout" -w "%{http_code}" "$MAYFLY_URL/api/v1/builds")
	expect_code 401
	code=$(curl -s -o "$TEST_TMP/stdout" -w "%{http_code}" -H "Authorization: Bearer nope" "$MAYFLY_URL/api/v1/images")
	expect_code 401
	expect_stdout "missing or unknown token"
'

test_expect 'malformed requests get 400 naming the field, and change nothing' '
	n=$(sql "SELECT count(*) FROM builds")
	api POST /api/v1/builds "{\"image\": \"tg\","; expect_code 400; expect_stdout "malformed JSON"
	api POST /api/v1/builds "[1, 2]"; expect_code 400; expect_stdout "must be a JSON object"
	api POST /api/v1/builds "{\"recipes\": [\"hello\"]}"; expect_code 400
	expect_eq "$(json_field .field)" image
	api POST /api/v1/builds "{\"image\": \"nope\", \"recipes\": [\"hello\"]}"; expect_code 400
	expect_eq "$(json_field .field)" image; expect_stdout "unknown image"
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": \"hello\"}"; expect_code 400
	expect_eq "$(json_field .field)" recipes
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"ok\", \"rm -rf /\"]}"; expect_code 400
	expect_eq "$(json_field .field)" "recipes[1]"
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"ok\"], \"timout\": 5}"; expect_code 400
	expect_eq "$(json_field .field)" timout
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"ok\"], \"timeout\": \"5\"}"; expect_code 400
	expect_eq "$(json_field .field)" timeout
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"ok\"], \"inputs\": [{\"name\": \"a.hpkg\", \"content_base64\": \"!!!\"}]}"
	expect_code 400; expect_eq "$(json_field .field)" "inputs[0].content_base64"
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"ok\"], \"inputs\": [{\"name\": \"../x\", \"content_base64\": \"\"}]}"
	expect_code 400; expect_eq "$(json_field .field)" "inputs[0].name"
	expect_eq "$(sql "SELECT count(*) FROM builds")" "$n"
'

test_expect 'a body over max_request_mb gets 413; routes and methods are checked' '
	head -c 1500000 /dev/zero | tr "\0" "a" > "$TEST_TMP/big"
	api POST /api/v1/builds "@$TEST_TMP/big"; expect_code 413
	api GET /api/v1/nothing; expect_code 404
	api DELETE /api/v1/builds; expect_code 405
	api GET /api/v1/builds/999999; expect_code 404
	api GET /api/v1/builds/abc; expect_code 404
	api GET "/api/v1/builds?status=bogus"; expect_code 400
	api GET /api/v1/images; expect_code 200
	expect_eq "$(json_field ".[0].name")" tg
'

test_expect 'idle and slow clients stall nothing; a client trickling its headers is cut off' '
	daemon_env
	port=${MAYFLY_URL##*:}
	# 300 idle connections (the old server served 256 at most, a thread each),
	# and one that sends a header line every half second and never ends them.
	bash -c "
		trap \"\" PIPE
		for i in \$(seq 300); do exec {fd}<>/dev/tcp/127.0.0.1/$port || exit 1; done
		exec 3<>/dev/tcp/127.0.0.1/$port
		printf \"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\" >&3
		for i in \$(seq 60); do
			printf \"X-Slow-\$i: y\\r\\n\" >&3 2>/dev/null || { echo cut after \$i; exit 0; }
			sleep 0.5
		done
		echo never cut
	" > "$TEST_TMP/slow.out" 2>&1 &
	slow=$!
	sleep 1
	# The API answers meanwhile (a liveness check, not a timing one).
	code=$(curl -s --max-time 20 -o "$TEST_TMP/stdout" -w "%{http_code}" "$MAYFLY_URL/healthz")
	expect_code 200
	api GET /api/v1/builds; expect_code 200
	wait $slow
	grep -q "cut after" "$TEST_TMP/slow.out" || { cat "$TEST_TMP/slow.out"; exit 1; }
	# Cut within header_timeout (2 s = 4 lines), give or take the sweeper.
	n=$(sed -n "s/cut after //p" "$TEST_TMP/slow.out")
	[ "$n" -le 12 ] || { echo "cut only after $n header lines"; exit 1; }
	# All of those connections are gone again.
	i=0
	while [ "$(ss -Htn state established "( sport = :$port )" | wc -l)" -gt 0 ]; do
		i=$((i + 1)); [ $i -le 100 ] || { ss -Htn "( sport = :$port )" | head; exit 1; }
		sleep 0.1
	done
'

test_expect 'builds queue: max_vms 1 never runs two machines; priority before FIFO' '
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"slow\"]}"; expect_code 202
	a=$(json_field .id)
	wait_log "$a" "machine .* started" 60
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"hello\"]}"; expect_code 202
	b=$(json_field .id)
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"hello\"], \"priority\": 5}"; expect_code 202
	c=$(json_field .id)
	# Watch libvirt while the three run one after another.
	max=0
	while [ "$(sql "SELECT count(*) FROM builds WHERE status IN ('\''queued'\'', '\''running'\'')")" -gt 0 ]; do
		n=$($VIRSH list --name | grep -c "^mayfly-$(instance)-" || true)
		[ "$n" -le "$max" ] || max=$n
		sleep 0.5
	done
	expect_eq "$max" 1 "(machines at once)"
	for id in $a $b $c; do expect_eq "$(wait_final $id 10)" succeeded; done
	# c (priority 5) started before b, which was queued first.
	order=$(grep -o "build [0-9]*: attempt 1 on" "$TEST_TMP/daemon.log" | cut -d" " -f2 | tr -d : | tr "\n" " ")
	expect_eq "$order" "$a $c $b "
	assert_no_leaks
'

test_expect 'a full queue answers 429; cancel of queued builds is immediate' '
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"hang\"]}"; expect_code 202
	running=$(json_field .id)
	wait_log "$running" "machine .* started" 60
	ids=
	for i in 1 2 3; do
		api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"hello\"]}"; expect_code 202
		ids="$ids $(json_field .id)"
	done
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"hello\"]}"
	expect_code 429
	expect_stdout "queue is full"
	for id in $ids; do
		api POST "/api/v1/builds/$id/cancel"; expect_code 200
		expect_eq "$(json_field .status)" cancelled
	done
	api POST "/api/v1/builds/$id/cancel"; expect_code 409
	echo "$running" > "$TEST_TMP/running.id"
'

test_expect 'cancel of a running build ends it within seconds, machine destroyed' '
	id=$(cat "$TEST_TMP/running.id")
	wait_log "$id" "building hang" 120
	start=$(date +%s)
	run_vmctl cancel "$id"
	expect_rc 0
	expect_stdout cancelling
	expect_eq "$(wait_final "$id" 20)" cancelled
	took=$(( $(date +%s) - start ))
	[ "$took" -le 10 ] || { echo "cancel took $took s"; exit 1; }
	assert_no_leaks
'

test_expect 'vmctl build --url: follows the log, fetches and checks packages' '
	run_vmctl build tg hello big-2 --out "$TEST_TMP/fetched" --json
	expect_rc 0
	expect_stderr "building big-2"
	expect_eq "$(json_field .status)" succeeded
	for i in 0 1; do
		name=$(json_field ".packages[$i].name")
		expect_eq "$(sha256sum "$TEST_TMP/fetched/$name" | cut -d" " -f1)" "$(json_field ".packages[$i].sha256")"
	done
	id=$(json_field .id)
	api GET "/api/v1/builds/$id/packages/hello-1.0-1-x86_64.hpkg"; expect_code 200
	cmp "$TEST_TMP/stdout" "$TEST_TMP/fetched/hello-1.0-1-x86_64.hpkg"
	api GET "/api/v1/builds/$id/packages/preinstalled-1.0-1-x86_64.hpkg"; expect_code 404
	run_vmctl logs "$id"
	expect_stdout "package big-2-1.0-1-x86_64.hpkg"
	run_vmctl status "$id"
	expect_stdout "build $id: succeeded"
	echo "$id" > "$TEST_TMP/fetched.id"
'

test_expect 'a package is served only as harvested: not changed, not through a symlink' '
	id=$(cat "$TEST_TMP/fetched.id")
	path=$(sql "SELECT path FROM packages WHERE build_id = $id AND name = '\''hello-1.0-1-x86_64.hpkg'\''")
	cp "$path" "$TEST_TMP/orig"
	printf x >> "$path"
	api GET "/api/v1/builds/$id/packages/hello-1.0-1-x86_64.hpkg"; expect_code 410
	grep -q "changed since it was harvested" "$TEST_TMP/stdout"
	# A symlink to a file of the right size is not followed either.
	head -c "$(stat -c %s "$TEST_TMP/orig")" /etc/passwd > "$TEST_TMP/same-size"
	rm "$path"; ln -s "$TEST_TMP/same-size" "$path"
	api GET "/api/v1/builds/$id/packages/hello-1.0-1-x86_64.hpkg"; expect_code 410
	rm "$path"; cp "$TEST_TMP/orig" "$path"
	api GET "/api/v1/builds/$id/packages/hello-1.0-1-x86_64.hpkg"; expect_code 200
	cmp "$TEST_TMP/stdout" "$TEST_TMP/orig"
'

test_expect 'vmctl trusts no package name from a server: nothing lands outside --out' '
	# A stand-in mayflyd on loopback that names its package "../../escaped".
	cat > "$TEST_TMP/fake.py" <<-EOF
		import http.server, json, sys
		class H(http.server.BaseHTTPRequestHandler):
		    def answer(self, code, body):
		        b = body.encode()
		        self.send_response(code)
		        self.send_header("Content-Length", str(len(b)))
		        self.end_headers()
		        self.wfile.write(b)
		    def do_POST(self):
		        self.rfile.read(int(self.headers["Content-Length"]))
		        self.answer(202, json.dumps({"id": 5, "status": "queued"}))
		    def do_GET(self):
		        sys.stderr.write("GET %s\\n" % self.path)
		        if self.path.endswith("/log?follow=1"):
		            return self.answer(200, "building\\n")
		        pkg = {"name": "../../escaped", "size": 1, "sha256": "0" * 64,
		               "url": "http://evil@127.0.0.1:1/x"}
		        self.answer(200, json.dumps({"id": 5, "image": "tg", "recipes": ["x"],
		            "status": "succeeded", "source": "api", "packages": [pkg],
		            "phases": [], "attempts": []}))
		    def log_message(self, *a): pass
		s = http.server.HTTPServer(("127.0.0.1", 0), H)
		print(s.server_port, flush=True)
		s.serve_forever()
	EOF
	python3 "$TEST_TMP/fake.py" > "$TEST_TMP/fake.port" 2> "$TEST_TMP/fake.log" &
	fake=$!
	i=0; until [ -s "$TEST_TMP/fake.port" ]; do i=$((i+1)); [ $i -lt 50 ] || exit 1; sleep 0.1; done
	mkdir -p "$TEST_TMP/deep/a/b"
	rc=0
	(cd "$TEST_TMP/deep/a/b" && MAYFLY_URL=http://127.0.0.1:$(cat "$TEST_TMP/fake.port") \
		"$VMCTL" build tg x --out out > "$TEST_TMP/stdout" 2> "$TEST_TMP/stderr") || rc=$?
	kill $fake
	expect_rc 3
	expect_stderr "mayflyd named a package of build 5 badly"
	test ! -e "$TEST_TMP/deep/escaped" && test ! -e "$TEST_TMP/deep/a/escaped"
	! grep -q "packages" "$TEST_TMP/fake.log"
'

test_expect 'vmctl build --url --no-wait, then logs -f until the end; inputs travel' '
	head -c 50000 /dev/urandom > "$TEST_TMP/input-dep.hpkg"
	run_vmctl build tg needs-input --input "$TEST_TMP/input-dep.hpkg" --no-wait
	expect_rc 0
	id=$(cat "$TEST_TMP/stdout")
	run_vmctl logs -f "$id"
	expect_rc 0
	expect_stdout "input input-dep.hpkg sha256 $(sha256sum "$TEST_TMP/input-dep.hpkg" | cut -d" " -f1)"
	expect_stdout "build $id succeeded"
	expect_eq "$(sql "SELECT status FROM builds WHERE id = $id")" succeeded
	assert_no_leaks
'

test_expect 'a failing build through the API: vmctl exits 1' '
	run_vmctl build tg fail-now
	expect_rc 1
	expect_stderr "failed"
'

test_expect 'SIGTERM: running build interrupted and queued again, no leak; restart runs it' '
	run_vmctl build tg slow --no-wait
	id=$(cat "$TEST_TMP/stdout")
	wait_log "$id" "machine .* started" 60
	stop_daemon TERM
	expect_eq "$(sql "SELECT status FROM builds WHERE id = $id")" queued
	assert_no_leaks
	start_daemon
	expect_eq "$(wait_final "$id" 120)" succeeded
'

test_expect 'SIGTERM with --drain lets the running build finish' '
	stop_daemon TERM
	start_daemon --drain
	run_vmctl build tg slow --no-wait
	id=$(cat "$TEST_TMP/stdout")
	wait_log "$id" "running:" 120
	stop_daemon TERM
	expect_eq "$(sql "SELECT status FROM builds WHERE id = $id")" succeeded
	grep -q "running builds finish first" "$TEST_TMP/daemon.log"
	assert_no_leaks
'

test_expect 'under disk_reserve_mb of free disk no machine starts; builds wait' '
	stop_daemon TERM
	sed -i "s/^disk_reserve_mb = .*/disk_reserve_mb = 1000000000/" "$MAYFLY_CONFIG"
	start_daemon
	api GET /healthz; expect_code 200
	expect_eq "$(json_field .disk_low)" true
	grep -q "no new machines start" "$TEST_TMP/daemon.log"
	run_vmctl build tg hello --no-wait
	id=$(cat "$TEST_TMP/stdout")
	sleep 3
	expect_eq "$(sql "SELECT status FROM builds WHERE id = $id")" queued
	run_vmctl cancel "$id"
	expect_rc 0
	sed -i "s/^disk_reserve_mb = .*/disk_reserve_mb = 0/" "$MAYFLY_CONFIG"
	assert_no_leaks
'

test_done
