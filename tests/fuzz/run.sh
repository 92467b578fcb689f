#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer drivers of tests/fuzz into build/fuzz/ and runs each for SECONDS
# (default 10) on a scratch copy of its seed corpus. Usage: tests/fuzz/run.sh [SECONDS]
#
# Known crashers (tests/fuzz/crashers/<target>/*) are replayed first and fail their target
# while the bug is there. Nothing is written under tests/: corpora are copied to
# build/fuzz/corpus-<target>, new crashes land in build/fuzz/artifacts/<target>/.
# Environment: CC (default clang), FUZZ_JOBS (fuzzers run at once, default 2).
set -u

secs=${1:-10}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
	echo "usage: $0 [SECONDS >= 1]" >&2
	exit 2
fi
jobs=${FUZZ_JOBS:-2}
if ! [[ $jobs =~ ^[0-9]+$ ]] || [ "$jobs" -lt 1 ]; then
	jobs=1
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$root/build/fuzz
cc=${CC:-clang}
# clang's libFuzzer: `cc` or a gcc in CC cannot build these.
if ! "$cc" --version 2>/dev/null | grep -q clang; then
	cc=clang
fi

targets=(ipc req wmsg akey cfg hs climsg rmsg)
declare -A srcs=(
	[ipc]="ipc/ipc.c"
	[req]="shared/req.c"
	[wmsg]="shared/wmsg.c shared/req.c"
	[akey]="shared/akey.c"
	[cfg]="shared/cfg.c shared/log.c"
	[hs]="shared/hs.c shared/req.c"
	[climsg]="shared/climsg.c"
	[rmsg]="ws-daemon/wsd_rmsg.c"
)
# Longest input per target: ipc fits a 1024-item PUSH_REPLY and a config reply, wmsg a
# largest /push body (max_message_bytes 65536) with room to spare, cfg a value over the
# 4096-byte limit, hs a request head just over HS_HEAD_MAX (8192), climsg a client text
# just over CLIMSG_MAX (4096), rmsg a resume of a few frames.
declare -A maxlen=([ipc]=40000 [req]=4096 [wmsg]=70000 [akey]=512 [cfg]=8192 [hs]=8300
	[climsg]=4200 [rmsg]=8192)

cflags=(-std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
	"-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=all
	-I"$root/shared" -I"$root/ipc" -I"$root/ws-daemon" -I"$here")
libs=(-ljansson -lyaml -lcrypto)

mkdir -p "$out" || exit 1
declare -A status=()

# --- build (in parallel; build time is not part of the SECONDS budget) ---
echo "fuzz: building ${#targets[@]} fuzzers with $cc into ${out#"$root"/}/"
for t in "${targets[@]}"; do
	(
		cd "$root" || exit 1
		rm -f "$out/fuzz_$t"
		# shellcheck disable=SC2086 # srcs is a word list on purpose
		"$cc" "${cflags[@]}" "tests/fuzz/fuzz_$t.c" ${srcs[$t]} -o "$out/fuzz_$t.new" \
			"${libs[@]}" >"$out/build-$t.log" 2>&1 &&
			mv -f "$out/fuzz_$t.new" "$out/fuzz_$t"
	) &
done
wait
for t in "${targets[@]}"; do
	if [ ! -x "$out/fuzz_$t" ]; then
		status[$t]=build
		echo "fuzz: $t: BUILD FAILED:"
		sed 's/^/    /' "$out/build-$t.log" | head -40
	fi
done

# --- run ---
mkdir -p "$out/tmp"
run_one() {
	local t=$1
	local log=$out/run-$t.log rc=0 f
	local corpus=$out/corpus-$t art=$out/artifacts/$t/ dict=$here/dict/$t.dict
	local crashers=() dictarg=()

	rm -rf "$corpus" "$art"
	mkdir -p "$corpus" "$art"
	if [ -d "$here/corpus/$t" ]; then
		cp -R "$here/corpus/$t/." "$corpus/"
	fi
	[ -f "$dict" ] && dictarg=(-dict="$dict")
	: >"$log"
	# Known crashers first: each must run clean now.
	for f in "$here/crashers/$t"/*; do
		[ -f "$f" ] && crashers+=("$f")
	done
	if [ ${#crashers[@]} -gt 0 ]; then
		echo "=== replay of ${#crashers[@]} known crasher(s)" >>"$log"
		(cd "$out" && TMPDIR=$out/tmp timeout -k 5 30 "./fuzz_$t" \
			-timeout=5 -max_len="${maxlen[$t]}" -artifact_prefix="$art" "${crashers[@]}") \
			>>"$log" 2>&1 || rc=10
	fi
	echo "=== fuzzing for $secs s" >>"$log"
	# cwd is build/fuzz so nothing libFuzzer writes by default can land in the tree;
	# -timeout reports a slow input as a failure, timeout(1) is only a backstop.
	(cd "$out" && TMPDIR=$out/tmp timeout -k 5 $((secs + 15)) "./fuzz_$t" \
		-max_total_time="$secs" -max_len="${maxlen[$t]}" -timeout=5 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art" "${dictarg[@]}" "$corpus") \
		>>"$log" 2>&1 || rc=$((rc + 1))
	return $rc
}

declare -A pids=()
start=$(date +%s)
running=0
for t in "${targets[@]}"; do
	[ -n "${status[$t]:-}" ] && continue
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$t" &
	pids[$t]=$!
	running=$((running + 1))
done
for t in "${targets[@]}"; do
	[ -z "${pids[$t]:-}" ] && continue
	wait "${pids[$t]}"
	case $? in
	0) status[$t]=ok ;;
	10) status[$t]=crasher ;;
	11) status[$t]=both ;;
	*) status[$t]=crash ;;
	esac
done
elapsed=$(($(date +%s) - start))
rm -rf "$out/tmp"

# --- report ---
passed=0
failed=0
for t in "${targets[@]}"; do
	log=$out/run-$t.log
	st=${status[$t]}
	stats=""
	if [ -f "$log" ] && [ "$st" != build ]; then
		# Last status line (cov/ft/corp/exec/s) and the final stats of the fuzzing run.
		line=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
		cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
		ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
		corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$line")
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
		rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
		stats="runs=${runs:-?} exec/s=${eps:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} rss=${rss:-?}MB"
	fi
	case $st in
	ok)
		passed=$((passed + 1))
		echo "fuzz: $t: ok   $stats"
		;;
	build)
		failed=$((failed + 1))
		echo "fuzz: $t: FAILED (build, see ${out#"$root"/}/build-$t.log)"
		;;
	*)
		failed=$((failed + 1))
		case $st in
		crasher) why="a known crasher in tests/fuzz/crashers/$t still fails" ;;
		both) why="a known crasher still fails, and fuzzing found a failing input" ;;
		*) why="fuzzing found a failing input, or hung" ;;
		esac
		echo "fuzz: $t: FAILED ($why)   $stats"
		grep -E 'ERROR: |property violated|runtime error|^    #[0-9]+ .* in [a-z_]+ /|^SUMMARY' "$log" |
			grep -v 'in fuzzer::\|__sanitizer\|in __libc\|in _start\|in __pthread\|in raise\|in abort' |
			head -n 14 | sed 's/^/    /'
		for f in "$out/artifacts/$t"/*; do
			[ -f "$f" ] && echo "    input: ${f#"$root"/} ($(stat -c %s "$f") bytes)"
		done
		echo "    log: ${out#"$root"/}/run-$t.log"
		;;
	esac
done
echo "fuzz: ran ${secs}s per target, $jobs at a time, in ${elapsed}s"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
