#!/usr/bin/env bash
# Seeds the fuzz corpora (corpus/<target>/seed-*) from the reference
# fixture, tests/fixtures/reference_python.jsonl, plus a few hand-written
# edge cases. Idempotent: rewrites only the seed-* files, leaving what the
# fuzzer found in corpus/ alone. The corpus is not committed.
set -euo pipefail
cd "$(dirname "$0")"

fixture=../tests/fixtures/reference_python.jsonl
[ -f "$fixture" ] || { echo "seed.sh: $fixture not found" >&2; exit 1; }

for t in parse_line read_stream round_trip memory_model emit_paths; do
  mkdir -p "corpus/$t"
  rm -f "corpus/$t"/seed-*
done

# parse_line: one fixture line per file (without its newline) ...
awk -v dir=corpus/parse_line '{
  f = sprintf("%s/seed-fixture-%04d", dir, NR); printf "%s", $0 > f; close(f)
}' "$fixture"
# ... and lines the fixture does not have: Python's extensions, big
# integers, duplicates, unknown types, absent envelope keys, escapes.
n=0
edge() { n=$((n + 1)); printf '%s' "$1" > "corpus/parse_line/seed-edge-$(printf %02d $n)"; }
edge '{"event_type": "tool_call_complete", "duration_ms": NaN, "metadata": {"i": Infinity, "j": -Infinity}}'
edge '{"event_type": "base", "metadata": {"big": -1180591620717411303424, "u": 18446744073709551615, "f": 1e+16, "neg": -0.0}}'
edge '{"event_type": "turn_start", "prompt_preview": "a", "metadata": {"k": 1, "j": 2, "k": 3}, "prompt_preview": "b"}'
edge '{"event_type": "custom_thing", "payload": {"x": [1, 2]}, "score": 0.5}'
edge '{"event_type": "x", "timestamp": "last tuesday", "severity": "loud"}'
edge '{"event_type":"skill_authored","unique_tools":["a","\u00e9","\ud83d\ude00"],"duration_ms":null,"tool_count":-9223372036854775808}'
edge '{"event_type": "error", "error_message": "\"\\\/\b\f\n\r\t\u0000\u007f\u2028"}'
edge '{"event_type": "tool_call_complete", "duration_ms": null}'
edge '{"event_type": "skill_used", "duration_ms": 5, "triggered_automatically": false}'
edge '  {"event_type" : "base" , "timestamp" : "2026-01-01T00:00:00.000000+00:00"}	'
edge '{"event_type": "base", "timestamp": "0001-01-01T00:00:00+00:00", "agent_id": "\ud800"}'
edge '{"a": [[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]], "event_type": "base"}'

# read_stream: the whole file, and pieces of it that start and end
# anywhere (mid-line, mid-character), with CRLF ends, a BOM, blank lines.
rs=corpus/read_stream
cp "$fixture" "$rs/seed-whole"
head -n 12 "$fixture" > "$rs/seed-head"
head -c 5000 "$fixture" > "$rs/seed-torn"
tail -c 4000 "$fixture" > "$rs/seed-tail"
head -c 9000 "$fixture" | tail -c 3333 > "$rs/seed-middle"
head -n 8 "$fixture" | sed 's/$/\r/' > "$rs/seed-crlf"
{ printf '\xEF\xBB\xBF'; head -n 4 "$fixture"; } > "$rs/seed-bom"
{ head -n 3 "$fixture"; printf '\n   \n\t\r\nnot json\n'; sed -n 20,22p "$fixture"; printf '{"event_type": "tool_ca'; } > "$rs/seed-mixed"
printf '~~~{"event_type": "base"}\n\n{"event_type": "turn_end"}' > "$rs/seed-long"

# round_trip, memory_model and emit_paths read their input as structure
# (arbitrary::Unstructured); fixture bytes are as good a start as any.
for i in 1 2 3 4; do
  sed -n "$((i * 40))p" "$fixture" > "corpus/round_trip/seed-$i"
  head -c $((i * 64)) "$fixture" | tail -c 64 > "corpus/memory_model/seed-$i"
  head -c $((i * 300)) "$fixture" | tail -c 300 > "corpus/emit_paths/seed-$i"
done

for t in parse_line read_stream round_trip memory_model emit_paths; do
  printf 'seeded %-13s %4d files\n' "$t" "$(ls "corpus/$t" | wc -l)"
done
