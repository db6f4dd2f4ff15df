#!/usr/bin/env bash
# Nightly: how often the suite catches a leaky enforcer. On the local
# cluster with Calico (the enforcer a rule can be put ahead of: `local up
# --leak-injection`), one case is run N times in a row while a fault lets a
# share of the new flows of ONE cell it must deny through (`local leak`):
# y/a -> x/a on 80/TCP under deny-all-ingress-in-x. A repetition that
# passes is a leak the suite missed. Run for each share; the counts go to
# docs/reliability.md. Needs Linux and root.
#
#   .ci/leak.sh [N [PERCENT...]]     # default: 100 runs at 10 and 50 %
set -euo pipefail
cd "$(dirname "$0")/.."
export GOSUMDB=off

n=${1:-100}
shift || true
percents=("$@")
[ ${#percents[@]} -gt 0 ] || percents=(10 50)
case_name=deny-all-ingress-in-x
bin=_output/bin/netpol-conformance
suite=_output/bin/netpol-suite
out=_output/leak

go build -o "$bin" ./cmd/netpol-conformance
go test -c -o "$suite" ./suite
suite_pid=""
trap 'rc=$?; [ -z "$suite_pid" ] || kill "$suite_pid" 2>/dev/null; wait 2>/dev/null; "$bin" local down || rc=1; exit $rc' EXIT
"$bin" local up --enforcer calico --leak-injection </dev/null
"$bin" local load-images
kubeconfig=$("$bin" local kubeconfig)
kubectl=_output/bin/kubectl

rm -rf "$out" && mkdir -p "$out"
podIP() { "$kubectl" --kubeconfig "$kubeconfig" get pod -n "$1" "$2" -o jsonpath='{.status.podIP}' 2>/dev/null || true; }
for p in "${percents[@]}"; do
	id=leak$p
	echo "=== $case_name x $n with $p % of y/a -> x/a 80/TCP leaking"
	mkdir -p "$out/$id"
	"$suite" --kubeconfig="$kubeconfig" --ginkgo.timeout=60m --ginkgo.no-color \
		--netpol.run-id="$id" --netpol.cases="^$case_name\$" --netpol.repeat="$n" \
		--netpol.junit-report="$out/$id/$id.xml" >"$out/$id/suite.log" 2>&1 &
	suite_pid=$!
	# The cell's addresses exist once the suite has created its pods,
	# seconds before its first case; the leak goes in then.
	src="" dst=""
	for _ in $(seq 600); do
		src=$(podIP "netpol-$id-y" a) dst=$(podIP "netpol-$id-x" a)
		[ -z "$src" ] || [ -z "$dst" ] || break
		sleep 0.1
	done
	[ -n "$src" ] && [ -n "$dst" ] || { echo "the suite's pods never got addresses"; exit 1; }
	"$bin" local leak --percent "$p" --from "$src" --to "$dst" --port 80/TCP
	echo "leak injected at $(date -u +%T.%N | cut -c1-12)"
	wait "$suite_pid" || echo "the suite exited $? (expected: the leak fails cases)"
	suite_pid=""
	# What the rule let through: a leak that never matched proves nothing.
	iptables -w 5 -L FORWARD -v -x -n | grep 'injected leak' || true
	"$bin" local leak --percent 0
	# From the record: only a pass (missed) or a departure (caught) counts;
	# anything else (an error, a case not run) makes the measurement void.
	journal="$out/$id/journal.jsonl"
	cases=$(grep "\"name\":\"$case_name#" "$journal" || true)
	passed=$(grep -c '"outcome":"passed"' <<<"$cases" || true)
	departed=$(grep -c '"outcome":"departed"' <<<"$cases" || true)
	[ "$((passed + departed))" -eq "$n" ] || { echo "$passed passed + $departed departed of $n runs in $journal: not a measurement"; exit 1; }
	echo "$p % leak: $departed of $n runs caught it, $passed missed it"
done
