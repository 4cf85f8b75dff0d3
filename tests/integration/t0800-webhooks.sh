#!/bin/sh
# Pull-request testing as a forge drives it: a forge stand-in on 127.0.0.1
# (tests/unit/forge_standin.py) receives the commit statuses; the test
# sends webhooks signed with openssl (an HMAC independent of Mayfly's).
# Refused: unsigned, wrongly signed, replayed, malformed, oversized,
# unknown tree, a branch with shell metacharacters. A pull request's
# changed ports are built in a sealed guest at its head (pending, then
# success), never published, its packages only under its own API; a push
# to it supersedes the older run; a port that tries to reach the host
# cannot; closing it ends it.
. "$(dirname "$0")/lib.sh"

UP=$TEST_TMP/up
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t.invalid GIT_COMMITTER_NAME=t
export GIT_COMMITTER_EMAIL=t@t.invalid
SECRET="It's a Secret to Everybody"

recipe() { # DIR NAME REVISION BUILD-BODY
	mkdir -p "$UP/$1"
	cat > "$UP/$1/$2-1.0.recipe" <<EOF
SUMMARY="$2"
DESCRIPTION="A port of the webhook test."
HOMEPAGE="https://$2.invalid/"
COPYRIGHT="2026 Mayfly"
LICENSE="MIT"
REVISION="$3"
ARCHITECTURES="all"
PROVIDES="
	$2 = \$portVersion
	"

BUILD()
{
	$4
}
EOF
}
recipe app-misc/alpha alpha 1 true
recipe app-misc/beta beta 1 true
git -C "$UP" init -q -b master
git -C "$UP" add -A
git -C "$UP" commit -q -m "two ports"
BASE=$(git -C "$UP" rev-parse HEAD)
# Pull request 1: beta revision 2.
git -C "$UP" checkout -q -b pr1
recipe app-misc/beta beta 2 true
git -C "$UP" commit -q -a -m "beta 2"
PR1=$(git -C "$UP" rev-parse HEAD)
# Its second push: beta fails; its third: beta 3, fine.
recipe app-misc/beta beta 3 "echo mayfly-fail"
git -C "$UP" commit -q -a -m "beta 3 fails"
PR1B=$(git -C "$UP" rev-parse HEAD)
recipe app-misc/beta beta 3 true
git -C "$UP" commit -q -a -m "beta 3 fixed"
PR1C=$(git -C "$UP" rev-parse HEAD)
git -C "$UP" checkout -q master
git -C "$UP" update-ref refs/pull/1/head "$PR1"
# Pull request 2 changes both ports: more than pr_max_ports (1).
git -C "$UP" checkout -q -b pr2
recipe app-misc/alpha alpha 2 true
recipe app-misc/beta beta 2 true
git -C "$UP" commit -q -a -m "alpha 2, beta 2"
PR2=$(git -C "$UP" rev-parse HEAD)
git -C "$UP" checkout -q master
git -C "$UP" update-ref refs/pull/2/head "$PR2"

# The forge stand-in: statuses land in $FORGE_LOG.
FORGE_LOG=$TEST_TMP/forge.log
start_helper python3 -u "$(dirname "$0")/../unit/forge_standin.py" "$TEST_TMP/forge.port" \
	"$FORGE_LOG" "$TEST_TMP/forge.control"
i=0
until [ -s "$TEST_TMP/forge.port" ]; do
	i=$((i + 1)); [ $i -le 100 ] || { say "not ok - the forge stand-in did not start"; exit 1; }
	sleep 0.1
done
FORGE=http://127.0.0.1:$(cat "$TEST_TMP/forge.port")
printf '%s\n' "$SECRET" > "$TEST_TMP/hook.secret"
printf 'ghp_forgetoken\n' > "$TEST_TMP/forge.token"
chmod 600 "$TEST_TMP/hook.secret" "$TEST_TMP/forge.token"

write_config "max_vms = 2" "pr_max_vms = 1" "pr_max_ports = 1" "max_webhook_kb = 64" "[daemon]" \
	"poll_interval = 0" "public_url = http://mayfly.invalid" \
	"[repository local]" "type = local" "path = $TEST_TMP/repo" "name = T" "vendor = T" \
	"summary = T" "priority = 1" "architecture = x86_64" "identifier = t" "publish_trees = up"

# hook EVENT DELIVERY BODY [SIGNATURE]: POST a GitHub webhook; status in $code.
hook() {
	sig=${4-sha256=$(printf '%s' "$3" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/.*= //')}
	code=$(curl -s -o "$TEST_TMP/stdout" -w '%{http_code} %{time_total}' -X POST \
		-H "X-GitHub-Event: $1" -H "X-GitHub-Delivery: $2" \
		-H "X-Hub-Signature-256: $sig" -H 'Content-Type: application/json' \
		--data-binary "$3" "$(cat "$TEST_TMP/daemon.url")/api/v1/hooks/github/up")
	echo "${code#* }" >> "$TEST_TMP/latency"
	code=${code% *}
}
pr_body() { # ACTION NUMBER HEAD [AUTHOR]
	printf '{"action":"%s","number":%s,"pull_request":{"number":%s,"state":"open","head":{"sha":"%s","ref":"pr1","repo":{"full_name":"haiku/ports"}},"base":{"ref":"master","sha":"%s","repo":{"full_name":"haiku/ports"}},"user":{"login":"%s"}},"repository":{"full_name":"haiku/ports"},"sender":{"login":"%s"}}' \
		"$1" "$2" "$2" "$3" "$BASE" "${4:-contributor}" "${4:-contributor}"
}
# The statuses the forge got for a commit: "state:description" lines.
statuses() {
	grep "/statuses/$1\"" "$FORGE_LOG" 2>/dev/null |
		jq -r '.body | fromjson | "\(.state):\(.description)"' || true
}
wait_status() { # SHA STATE
	i=0
	until statuses "$1" | grep -q "^$2:"; do
		i=$((i + 1))
		[ $i -le 1500 ] || { echo "no $2 status for $1:"; statuses "$1"; tail -30 "$TEST_TMP/daemon.log"; return 1; }
		sleep 0.2
	done
}

test_expect 'webhooks are refused unless signed by the tree'\''s secret; nothing is built' '
	add_testguest tg >/dev/null 2>&1
	run_vmctl tree add up "$UP"; expect_rc 0
	run_vmctl tree set up --update-image tg --forge github --forge-repo haiku/ports \
		--forge-api "$FORGE" --webhook-secret-file "$TEST_TMP/hook.secret" \
		--forge-token-file "$TEST_TMP/forge.token"
	expect_rc 0; expect_stdout "POST /api/v1/hooks/github/up"
	start_daemon
	body=$(pr_body opened 1 "$PR1")
	hook pull_request d-1 "$body" ""; expect_code 401
	hook pull_request d-1 "$body" "sha256=0000"; expect_code 401
	other=$(printf "%s" "$body" | sed s/contributor/intruder/)
	hook pull_request d-1 "$body" "sha256=$(printf "%s" "$other" | openssl dgst -sha256 -hmac "$SECRET" | sed "s/.*= //")"
	expect_code 401
	hook ping d-2 "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}"; expect_code 200
	hook issues d-3 "{\"action\":\"opened\"}"; expect_code 202; expect_stdout "ignored"
	hook pull_request d-4 "{\"action\":\"opened\",\"number\":1"; expect_code 400
	hook push d-5 "{\"ref\":\"refs/heads/ma;reboot\",\"after\":\"$PR1\",\"repository\":{\"full_name\":\"haiku/ports\"},\"pusher\":{\"name\":\"x\"}}"
	expect_code 400
	big=$(head -c 70000 /dev/zero | tr "\\0" x)
	hook push d-6 "{\"pad\":\"$big\"}"; expect_code 413
	code=$(curl -s -o /dev/null -w "%{http_code}" -X POST -H "X-GitHub-Event: ping" \
		--data-binary "{}" "$(cat "$TEST_TMP/daemon.url")/api/v1/hooks/github/nope")
	expect_code 404
	expect_eq "$(sql "SELECT count(*) FROM webhook_events")" 0
	expect_eq "$(sql "SELECT count(*) FROM builds")" 0
'

test_expect 'a pull request: its changed port built in a fresh guest, pending then success, never published' '
	hook pull_request d-10 "$(pr_body opened 1 "$PR1")"
	expect_code 202; expect_stdout "pull request #1"
	# A replayed delivery does nothing.
	hook pull_request d-10 "$(pr_body opened 1 "$PR1")"
	expect_code 200; expect_stdout "received before"
	wait_status "$PR1" pending
	wait_status "$PR1" success
	statuses "$PR1" | grep -qx "success:1 port built"
	expect_eq "$(statuses "$PR1" | head -1)" "pending:building 1 port"
	# The status request, as GitHub takes it.
	grep "/repos/haiku/ports/statuses/$PR1\"" "$FORGE_LOG" | head -1 > "$TEST_TMP/req"
	expect_eq "$(jq -r .method "$TEST_TMP/req")" POST
	jq -r ".headers[] | select(.[0] == \"Authorization\") | .[1]" "$TEST_TMP/req" | grep -qx "Bearer ghp_forgetoken"
	expect_eq "$(jq -r ".body | fromjson | .context" "$TEST_TMP/req")" mayfly/x86_64
	run=$(sql "SELECT buildrun FROM pull_requests WHERE number = 1")
	expect_eq "$(jq -r ".body | fromjson | .target_url" "$TEST_TMP/req")" \
		"http://mayfly.invalid/api/v1/buildruns/$run"
	expect_eq "$(sql "SELECT source || \" \" || pr || \" \" || commit_id FROM buildruns WHERE id = $run")" \
		"pull-request 1 $PR1"
	expect_eq "$(sql "SELECT recipes FROM builds WHERE buildrun = $run")" beta-1.0
	# Its packages: under its own API only, never in the index.
	api GET /api/v1/prs/up/1; expect_code 200
	expect_eq "$(json_field "[.packages[].name] | join(\",\")")" beta-1.0-2-x86_64.hpkg
	url=$(json_field ".packages[0].url")
	api GET "$url"; expect_code 200
	expect_eq "$(sql "SELECT count(*) FROM pkg_index WHERE origin NOT LIKE '\''system:%'\''")" 0
	run_vmctl publish "$run" local
	expect_rc 2; expect_stderr "built a pull request: its packages are never published"
	assert_no_leaks
'

test_expect 'a push to the pull request supersedes its run; the new head is built; a port cannot reach the host' '
	# A listener on the host: a port that reached it would be seen.
	python3 -c "
import socket, sys
s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(8)
open(sys.argv[1], \"w\").write(str(s.getsockname()[1]))
s.settimeout(600)
try:
    c, a = s.accept(); open(sys.argv[2], \"w\").write(str(a))
except Exception: pass
" "$TEST_TMP/listen.port" "$TEST_TMP/listen.hit" &
	lpid=$!
	until [ -s "$TEST_TMP/listen.port" ]; do sleep 0.1; done
	lport=$(cat "$TEST_TMP/listen.port")
	mport=$(sed "s/.*://" "$TEST_TMP/daemon.url")
	git -C "$UP" checkout -q pr1
	# (10.0.2.2 is how a QEMU guest with user networking reaches the host loopback.)
	recipe app-misc/beta beta 3 "command -v nc >/dev/null && command -v wget >/dev/null || echo mayfly-fail; for p in $lport $mport; do nc -w 2 10.0.2.2 \$p </dev/null >/dev/null 2>&1 && echo mayfly-fail; done; wget -q -T 2 -O /dev/null http://10.0.2.2:$mport/healthz && echo mayfly-fail; true"
	git -C "$UP" commit -q -a -m "beta 3 tries the network"
	PR1D=$(git -C "$UP" rev-parse HEAD)
	git -C "$UP" checkout -q master
	git -C "$UP" update-ref refs/pull/1/head "$PR1B"
	hook pull_request d-11 "$(pr_body synchronize 1 "$PR1B")"; expect_code 202
	wait_status "$PR1B" pending
	git -C "$UP" update-ref refs/pull/1/head "$PR1D"
	hook pull_request d-12 "$(pr_body synchronize 1 "$PR1D")"; expect_code 202
	wait_status "$PR1B" error
	statuses "$PR1B" | grep -q "^error:superseded by $(echo "$PR1D" | cut -c1-12)"
	wait_status "$PR1D" success
	kill $lpid 2>/dev/null || true
	test ! -e "$TEST_TMP/listen.hit"
	old=$(sql "SELECT id FROM buildruns WHERE commit_id = '\''$PR1B'\''")
	sql "SELECT status FROM buildruns WHERE id = $old" | grep -q "^superseded"
	assert_no_leaks
'

test_expect 'GitLab: a merge request hook with the token; its status in GitLab'\''s shape; too many ports are not built' '
	printf "%s\n" "$SECRET" > "$TEST_TMP/gl.secret"; chmod 600 "$TEST_TMP/gl.secret"
	run_vmctl tree add gl "$UP"; expect_rc 0
	run_vmctl tree set gl --update-image tg --forge gitlab --forge-repo haiku/ports \
		--forge-api "$FORGE/api/v4" --webhook-secret-file "$TEST_TMP/gl.secret" \
		--forge-token-file "$TEST_TMP/forge.token"
	expect_rc 0
	mr="{\"object_kind\":\"merge_request\",\"event_type\":\"merge_request\",\"user\":{\"username\":\"gluser\"},\"project\":{\"id\":7,\"path_with_namespace\":\"haiku/ports\"},\"object_attributes\":{\"iid\":2,\"action\":\"open\",\"target_branch\":\"master\",\"source_branch\":\"pr2\",\"last_commit\":{\"id\":\"$PR2\"}}}"
	url=$(cat "$TEST_TMP/daemon.url")/api/v1/hooks/gitlab/gl
	code=$(curl -s -o "$TEST_TMP/stdout" -w "%{http_code}" -X POST -H "X-Gitlab-Event: Merge Request Hook" \
		-H "X-Gitlab-Token: wrong" --data-binary "$mr" "$url")
	expect_code 401
	git -C "$UP" update-ref refs/merge-requests/2/head "$PR2"
	code=$(curl -s -o "$TEST_TMP/stdout" -w "%{http_code}" -X POST -H "X-Gitlab-Event: Merge Request Hook" \
		-H "X-Gitlab-Token: $SECRET" -H "X-Gitlab-Event-UUID: 5f3e1a2b-0c4d-4e5f-8a9b-0c1d2e3f4a5b" \
		--data-binary "$mr" "$url")
	expect_code 202
	i=0
	until grep -q "/api/v4/projects/haiku%2Fports/statuses/$PR2" "$FORGE_LOG" 2>/dev/null; do
		i=$((i + 1)); [ $i -le 300 ] || { tail -20 "$TEST_TMP/daemon.log"; exit 1; }; sleep 0.2
	done
	grep "/api/v4/projects/haiku%2Fports/statuses/$PR2" "$FORGE_LOG" | tail -1 > "$TEST_TMP/req"
	jq -r ".headers[] | select(.[0] == \"PRIVATE-TOKEN\") | .[1]" "$TEST_TMP/req" | grep -qx ghp_forgetoken
	jq -r .body "$TEST_TMP/req" | tr "&" "\n" > "$TEST_TMP/form"
	grep -qx "state=failed" "$TEST_TMP/form"
	grep -q "^name=mayfly.*x86_64" "$TEST_TMP/form"
	grep -q "^description=2.*ports.*changed" "$TEST_TMP/form"
	expect_eq "$(sql "SELECT count(*) FROM buildruns WHERE commit_id = '\''$PR2'\''")" 0
	run_vmctl tree rm gl; expect_rc 0
'

test_expect 'a push to the branch updates the tree once, however often it is delivered' '
	# The first push only sets where updates start (as the first poll does).
	push="{\"ref\":\"refs/heads/master\",\"after\":\"$BASE\",\"repository\":{\"full_name\":\"haiku/ports\"},\"pusher\":{\"name\":\"dev\"}}"
	hook push p-1 "$push"; expect_code 202
	i=0
	until [ "$(sql "SELECT processed FROM trees WHERE name = '\''up'\''")" = "$BASE" ]; do
		i=$((i + 1)); [ $i -le 100 ] || exit 1; sleep 0.2
	done
	recipe app-misc/alpha alpha 2 true
	git -C "$UP" commit -q -a -m "alpha 2 on master"
	M2=$(git -C "$UP" rev-parse HEAD)
	push="{\"ref\":\"refs/heads/master\",\"after\":\"$M2\",\"repository\":{\"full_name\":\"haiku/ports\"},\"pusher\":{\"name\":\"dev\"}}"
	hook push p-2 "$push"; expect_code 202
	# Again, as the forge redelivers it, and under another id, as a replay would.
	hook push p-2 "$push"; expect_code 200
	hook push p-3 "$push"; expect_code 200; expect_stdout "received before"
	i=0
	until [ "$(sql "SELECT count(*) FROM webhook_events WHERE kind = '\''push'\'' AND processed IS NULL")" = 0 ]; do
		i=$((i + 1)); [ $i -le 100 ] || exit 1; sleep 0.2
	done
	expect_eq "$(sql "SELECT count(*) FROM buildruns WHERE kind = '\''update'\'' AND commit_id = '\''$M2'\''")" 1
	expect_eq "$(sql "SELECT processed FROM trees WHERE name = '\''up'\''")" "$M2"
	run=$(sql "SELECT id FROM buildruns WHERE kind = '\''update'\''")
	i=0
	until [ "$(sql "SELECT end > 0 FROM buildruns WHERE id = $run")" = 1 ]; do
		i=$((i + 1)); [ $i -le 600 ] || exit 1; sleep 0.5
	done
	expect_eq "$(sql "SELECT port || \" \" || state FROM buildrun_ports WHERE run = $run")" "alpha-1.0 complete"
	assert_no_leaks
'

test_expect 'a failing port gives a failure status naming it; closing the pull request ends its run' '
	git -C "$UP" checkout -q pr1
	recipe app-misc/beta beta 4 "echo mayfly-fail"
	git -C "$UP" commit -q -a -m "beta 4 fails"
	PR1E=$(git -C "$UP" rev-parse HEAD)
	git -C "$UP" checkout -q master
	git -C "$UP" update-ref refs/pull/1/head "$PR1E"
	hook pull_request d-13 "$(pr_body synchronize 1 "$PR1E")"; expect_code 202
	wait_status "$PR1E" failure
	statuses "$PR1E" | grep -qx "failure:0 ports built, 1 failed: beta"
	# An old delivery of an older head, sent again under a new id, is a replay.
	hook pull_request d-99 "$(pr_body synchronize 1 "$PR1B")"; expect_code 200
	hook pull_request d-14 "$(pr_body closed 1 "$PR1E")"; expect_code 202
	i=0
	until [ "$(sql "SELECT state FROM pull_requests WHERE number = 1")" = closed ]; do
		i=$((i + 1)); [ $i -le 100 ] || exit 1; sleep 0.1
	done
	# Each webhook was answered quickly (the figures are in the benchmark).
	sort -n "$TEST_TMP/latency" | tail -1
	stop_daemon
	assert_no_leaks
'

test_done
