#!/usr/bin/env bash
# Prints the size of the product: the non-test Go files under exporter/, actuator/,
# cmd/ and dashboards/ (what docs/architecture.md#size counts), per package and in
# total, as all lines and as code lines (without blank and comment-only lines).
# With a git revision as argument it measures that revision instead of the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-}
if [ -n "$rev" ]; then
	files=$(git ls-tree -r --name-only "$rev" -- exporter actuator cmd dashboards)
	show() { git show "$rev:$1"; }
else
	files=$(git ls-files --cached --others --exclude-standard -- exporter actuator cmd dashboards)
	show() { cat "$1"; }
fi
for f in $(echo "$files" | grep '\.go$' | grep -v '_test\.go$'); do
	[ -n "$rev" ] || [ -f "$f" ] || continue
	show "$f" | awk -v pkg="$(dirname "$f")" '
		{ all++; l = $0; sub(/^[ \t]+/, "", l) }
		inblock { if (l ~ /\*\//) inblock = 0; next }
		l ~ /^\/\*/ { if (l !~ /\*\//) inblock = 1; next }
		l != "" && l !~ /^\/\// { code++ }
		END { print pkg, all + 0, code + 0 }'
done | awk '
	{ all[$1] += $2; code[$1] += $3; ta += $2; tc += $3 }
	END {
		printf "%-36s %6s %6s\n", "package", "lines", "code"
		for (p in all) printf "%-36s %6d %6d\n", p, all[p], code[p] | "sort -k2,2nr"
		close("sort -k2,2nr")
		printf "%-36s %6d %6d\n", "total", ta, tc
	}'
