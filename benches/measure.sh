#!/usr/bin/env bash
# measure.sh: counts per operation for a bench binary, by difference of two runs.
#
# Usage:
#   benches/measure.sh [--n1 N1] [--n2 N2] [--only LIST] [--strace-children] -- BENCH [ARGS...]
#   benches/measure.sh [options] --bench NAME -- [ARGS...]   (builds `cargo bench --bench NAME`)
#   benches/measure.sh --selftest
#
# BENCH is run with a count of operations: every `{N}` in ARGS is replaced by the count, or,
# when ARGS has no `{N}`, `--count N` is appended. Bench binaries follow the convention
#   <bench> --count N [--client weir|tokio|hyper] [--mode ...] [--pin CPU]
# doing exactly N operations after start-up. Each measure runs the bench at N1 and at N2
# (default 2000 and 12000) and reports (X(N2) - X(N1)) / (N2 - N1), so start-up and teardown
# cancel out:
#   callgrind  instructions per op   valgrind --tool=callgrind, the `summary:`/`totals:` Ir
#   strace     syscalls per op       strace -f -ff, one count per task: the bench's threads
#                                    count; a child process that execs a program (a server
#                                    the bench started) does not, unless --strace-children;
#                                    with the per-syscall breakdown
#   dhat       allocations per op    valgrind --tool=dhat, "Total: B bytes in M blocks"
#              (and bytes per op)
#   rss        peak RSS in KiB       /usr/bin/time -v at N1 and N2 (not a difference)
# LIST (for --only) is a comma-separated subset of callgrind,strace,dhat,rss.
#
# Counts are of the whole bench process, all threads: a bench whose server runs in the same
# process (an embedded echo server) counts the server too; say which in the table. A server
# started as a child process is not counted (valgrind does not trace children; strace leaves
# them out). Peak RSS from /usr/bin/time is the largest of the bench and the children it
# waited for: a bench that starts a bigger server should also print its own VmHWM.
#
# Output: a human table, then one `key=value` line per figure (for scripts).
# --selftest compiles a C program doing one write(2) and one malloc per op and checks that
# the tool reports 1 syscall and 1 allocation per op.
set -euo pipefail

n1=2000
n2=12000
only="callgrind,strace,dhat,rss"
strace_children=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

# bench_cmd N: prints the bench command for count N, one word per line.
bench_cmd() {
  local n=$1 arg substituted=0
  for arg in "${bench[@]}"; do
    if [[ $arg == *"{N}"* ]]; then
      substituted=1
      printf '%s\n' "${arg//\{N\}/$n}"
    else
      printf '%s\n' "$arg"
    fi
  done
  [ "$substituted" = 1 ] || printf '%s\n%s\n' --count "$n"
}

# run_at N LOG TOOL...: runs TOOL... followed by the bench command for count N.
run_at() {
  local n=$1 log=$2
  shift 2
  local cmd
  mapfile -t cmd < <(bench_cmd "$n")
  if ! "$@" "${cmd[@]}" >"$log" 2>&1; then
    echo "measure.sh: failed: $* ${cmd[*]}" >&2
    tail -20 "$log" >&2
    exit 1
  fi
}

# per_op X1 X2: (X2 - X1) / (N2 - N1) with two decimals.
per_op() { awk -v a="$1" -v b="$2" -v n1="$n1" -v n2="$n2" 'BEGIN { printf "%.2f", (b - a) / (n2 - n1) }'; }

report() { printf '%-26s %14s   (N1=%s: %s, N2=%s: %s)\n' "$1" "$2" "$n1" "$3" "$n2" "$4"; }

callgrind_ir() {
  awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

measure_callgrind() {
  local a b
  run_at "$n1" "$tmp/cg1.log" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg1.out"
  run_at "$n2" "$tmp/cg2.log" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg2.out"
  a=$(callgrind_ir "$tmp/cg1.out")
  b=$(callgrind_ir "$tmp/cg2.out")
  instructions_per_op=$(per_op "$a" "$b")
  report "instructions per op" "$instructions_per_op" "$a" "$b"
  results+=("instructions_per_op=$instructions_per_op")
}

# strace_calls PREFIX: "name calls" lines and "total calls" for the bench's own tasks, from
# `strace -f -ff -o PREFIX` (one file per task). A child process that execs another program
# (a server the bench started: nginx, python) is left out with all its threads and children,
# unless --strace-children; what was left out is listed on stderr.
strace_calls() {
  python3 - "$1" "$strace_children" <<'PY'
import collections, os, re, sys
prefix, keep_children = sys.argv[1], sys.argv[2] == "1"
folder, base = os.path.split(prefix)
call = re.compile(r"^([a-z_0-9]+)\(")
spawn = re.compile(r"^(?:clone|clone3|fork|vfork)\(.*\)\s+=\s+(\d+)\s*$")
counts, parent, program = {}, {}, {}
for name in os.listdir(folder):
    if not name.startswith(base + "."):
        continue
    tid = int(name[len(base) + 1:])
    counts[tid] = collections.Counter()
    with open(os.path.join(folder, name), errors="replace") as lines:
        for line in lines:
            m = call.match(line)
            if not m:
                continue
            counts[tid][m.group(1)] += 1
            if m.group(1) == "execve" and line.rstrip().endswith("= 0"):
                program[tid] = line.split('"')[1] if '"' in line else "?"
            child = spawn.match(line)
            if child:
                parent[int(child.group(1))] = tid
def excluded(tid):
    while tid in parent:
        if tid in program:
            return True
        tid = parent[tid]
    return False
total, left_out = collections.Counter(), collections.Counter()
for tid, c in counts.items():
    if keep_children or not excluded(tid):
        total.update(c)
    elif tid in program:
        left_out[program[tid]] += 1
if left_out:
    names = ", ".join(f"{p} x{n}" for p, n in sorted(left_out.items()))
    print(f"strace: not counted (child processes and their tasks): {names}", file=sys.stderr)
for name, n in sorted(total.items()):
    print(name, n)
print("total", sum(total.values()))
PY
}

measure_strace() {
  mkdir -p "$tmp/st1" "$tmp/st2"
  run_at "$n1" "$tmp/st1.log" strace -f -ff -o "$tmp/st1/task"
  run_at "$n2" "$tmp/st2.log" strace -f -ff -o "$tmp/st2/task"
  strace_calls "$tmp/st1/task" >"$tmp/st1.calls" 2>/dev/null
  strace_calls "$tmp/st2/task" >"$tmp/st2.calls" 2>"$tmp/st2.left_out"
  local a b
  a=$(awk '$1 == "total" { print $2 }' "$tmp/st1.calls")
  b=$(awk '$1 == "total" { print $2 }' "$tmp/st2.calls")
  syscalls_per_op=$(per_op "$a" "$b")
  report "syscalls per op" "$syscalls_per_op" "$a" "$b"
  results+=("syscalls_per_op=$syscalls_per_op")
  # Per-syscall breakdown: only the calls that grow with the count.
  awk -v n1="$n1" -v n2="$n2" '
    FNR == 1 { file++ }
    file == 1 { first[$1] = $2 } file == 2 { second[$1] = $2 }
    END { for (s in second) if (s != "total") { d = (second[s] - first[s]) / (n2 - n1);
          if (d >= 0.005 || d <= -0.005) printf "    %-22s %8.2f per op\n", s, d } }' \
    "$tmp/st1.calls" "$tmp/st2.calls" | sort -k2 -rn
  sed 's/^/    /' "$tmp/st2.left_out"
}

# dhat_total LOG: "BYTES BLOCKS" from dhat's "Total: B bytes in M blocks".
dhat_total() {
  sed -n 's/.*Total: *\([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1 \2/p' "$1" | tr -d , | head -1
}

measure_dhat() {
  run_at "$n1" "$tmp/dh1.log" valgrind --tool=dhat --dhat-out-file="$tmp/dh1.json"
  run_at "$n2" "$tmp/dh2.log" valgrind --tool=dhat --dhat-out-file="$tmp/dh2.json"
  local a b
  read -r a_bytes a < <(dhat_total "$tmp/dh1.log")
  read -r b_bytes b < <(dhat_total "$tmp/dh2.log")
  allocations_per_op=$(per_op "$a" "$b")
  report "allocations per op" "$allocations_per_op" "$a" "$b"
  bytes_per_op=$(per_op "$a_bytes" "$b_bytes")
  report "allocated bytes per op" "$bytes_per_op" "$a_bytes" "$b_bytes"
  results+=("allocations_per_op=$allocations_per_op" "allocated_bytes_per_op=$bytes_per_op")
}

peak_rss() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }

measure_rss() {
  run_at "$n1" "$tmp/rss1.log" /usr/bin/time -v
  run_at "$n2" "$tmp/rss2.log" /usr/bin/time -v
  local a b
  a=$(peak_rss "$tmp/rss1.log")
  b=$(peak_rss "$tmp/rss2.log")
  report "peak RSS KiB (at N2)" "$b" "$a" "$b"
  results+=("peak_rss_kib_n1=$a" "peak_rss_kib_n2=$b")
}

# require_tools: fails early, naming the Debian package, when a selected measure's tool is missing.
require_tools() {
  local missing=()
  [[ $only != *callgrind* && $only != *dhat* ]] || command -v valgrind >/dev/null || missing+=(valgrind)
  [[ $only != *strace* ]] || command -v strace >/dev/null || missing+=(strace)
  [[ $only != *strace* ]] || command -v python3 >/dev/null || missing+=(python3)
  [[ $only != *rss* ]] || [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "measure.sh: missing tools: apt-get install ${missing[*]}  (.ci/run installs them)" >&2
    exit 2
  fi
}

measure_all() {
  local m
  require_tools
  printf 'measure.sh: %s  (N1=%s, N2=%s)\n' "${bench[*]}" "$n1" "$n2"
  for m in ${only//,/ }; do
    case $m in
      callgrind | strace | dhat | rss) "measure_$m" ;;
      *) echo "measure.sh: unknown measure '$m'" >&2; exit 2 ;;
    esac
  done
  printf '%s\n' "${results[@]}"
}

# The self-test: a C program doing N times one write(2) to /dev/null and one malloc/free.
selftest() {
  cat >"$tmp/ops.c" <<'C'
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--count") == 0) n = atol(argv[i + 1]);
    int fd = open("/dev/null", O_WRONLY);
    for (long i = 0; i < n; i++) {
        char *volatile p = malloc(64);
        p[0] = 'x';
        if (write(fd, p, 1) != 1) return 1;
        free(p);
    }
    return 0;
}
C
  gcc -O1 -o "$tmp/ops" "$tmp/ops.c"
  bench=("$tmp/ops")
  n1=1000 n2=3000
  measure_all
  local ok=1
  [ "$syscalls_per_op" = "1.00" ] || { echo "selftest: expected 1.00 syscalls per op" >&2; ok=0; }
  [ "$allocations_per_op" = "1.00" ] || { echo "selftest: expected 1.00 allocations per op" >&2; ok=0; }
  [ "$bytes_per_op" = "64.00" ] || { echo "selftest: expected 64.00 bytes per op" >&2; ok=0; }
  awk -v i="$instructions_per_op" 'BEGIN { exit !(i > 10 && i < 1000) }' ||
    { echo "selftest: instructions per op $instructions_per_op out of range" >&2; ok=0; }
  [ "$ok" = 1 ] && echo "measure.sh selftest: ok"
}

# bench_executable NAME: builds the cargo bench NAME (bench profile) and prints its path.
bench_executable() {
  (cd "$(dirname "$0")/.." && cargo bench --no-run --bench "$1" --message-format=json) | python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["kind"] == ["bench"]:
        print(msg["executable"])
'
}

bench=()
results=()
cargo_bench=""
selftest_mode=0
while [ $# -gt 0 ]; do
  case $1 in
    --n1) n1=$2; shift 2 ;;
    --n2) n2=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --strace-children) strace_children=1; shift ;;
    --selftest) selftest_mode=1; shift ;;
    --bench) cargo_bench=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    --) shift; bench=("$@"); break ;;
    *) bench=("$@"); break ;;
  esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$selftest_mode" = 1 ]; then
  selftest
  exit
fi
if [ -n "$cargo_bench" ]; then
  exe=$(bench_executable "$cargo_bench")
  [ -n "$exe" ] || { echo "measure.sh: no bench named $cargo_bench" >&2; exit 2; }
  bench=("$exe" "${bench[@]}")
fi
[ ${#bench[@]} -gt 0 ] || usage
[ "$n2" -gt "$n1" ] || { echo "measure.sh: need N2 > N1" >&2; exit 2; }
measure_all
