#!/usr/bin/env bash
# make fuzz: runs every Go fuzz target of the module (found with
# `go test -list '^Fuzz' ./...`, so new targets are picked up) for FUZZTIME
# each, one after the other, and prints per target the execs, the new
# interesting inputs (kept in Go's fuzz cache) and any crasher (written to
# the package's testdata/fuzz/<target>/, where `go test` then replays it:
# commit it with the fix). Exits 1 if a target fails or none is found.
# `go test` (make test) runs only the committed seeds.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}

list=$("$GO" test -list '^Fuzz' ./... 2>&1) || { printf '%s\n' "$list"; echo "fuzz: listing the fuzz targets failed" >&2; exit 1; }
module=$("$GO" list -m)
targets=() # "package target"
names=()
while read -r line; do
	case $line in
	Fuzz*) names+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for n in "${names[@]}"; do targets+=("$pkg $n"); done
		names=()
		;;
	esac
done <<<"$list"
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

echo "fuzz: ${#targets[@]} targets, $FUZZTIME each"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
for t in "${targets[@]}"; do
	pkg=${t% *} name=${t#* }
	dir=${pkg#"$module"}
	dir=.$dir
	"$GO" test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -timeout 0 "$pkg" >"$log" 2>&1
	rc=$?
	last=$(grep -E '^fuzz: elapsed:' "$log" | tail -n 1)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
	fresh=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
	crasher=$(sed -nE 's/.*Failing input written to (.*)$/\1/p' "$log" | head -n 1)
	status=ok
	if [ $rc -ne 0 ]; then
		status=FAIL
		failed=$((failed + 1))
	fi
	printf '%-22s %-28s execs %-10s new interesting %-6s crashers %s  %s\n' \
		"$name" "$dir" "${execs:--}" "${fresh:--}" "$([ -n "$crasher" ] && echo 1 || echo 0)" "$status"
	if [ -n "$crasher" ]; then
		echo "  crasher: $dir/$crasher (replay: go test -run '$name/$(basename "$crasher")' $dir)"
	fi
	if [ $rc -ne 0 ]; then
		grep -vE '^fuzz: elapsed:' "$log" | tail -n 30 | sed 's/^/  | /'
	fi
done
if [ $failed -ne 0 ]; then
	echo "fuzz: $failed of ${#targets[@]} targets failed" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets passed"
