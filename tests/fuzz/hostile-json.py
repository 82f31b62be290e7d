#!/usr/bin/env python3
"""Write JSON replies at ms_json_parse's bounds into DIR, for measuring
the peak RSS of one parse (tests/fuzz/README.md, "Memory"):

    python3 tests/fuzz/hostile-json.py /tmp/hostile
    for f in /tmp/hostile/*.json; do
        /usr/bin/time -f "%M KB $f" build/tests/fuzz/replay-graph $f >/dev/null
    done

Too large for the tree (up to 16 MB each, MAX_PAGE and MAX_BATCH); the
fuzzers' own inputs stay small.
"""
import os
import sys

MAX = 16 << 20  # the largest reply taken (graph.c MAX_PAGE, gmail.c MAX_BATCH)
N_CONT = 200000  # MS_JSON_MAX_CONTAINERS
N_VAL = 1000000  # MS_JSON_MAX_VALUES


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: hostile-json.py DIR")
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    arr = lambda items: '{"value":[' + ",".join(items) + "]}"
    cases = {
        "empty-objects": arr(["{}"] * (N_CONT - 10)),
        "ints": arr(["1"] * (N_VAL - 10)),
        "strings": arr(['"' + "x" * 13 + '"'] * (N_VAL - 10)),
        "keys": "{" + ",".join('"%x":0' % i for i in range(N_VAL - 10)) + "}",
        "objects-of-4": arr(['{"a":0,"b":0,"c":0,"d":0}'] * (N_CONT - 10)),
        "long-string": '{"a":"' + "x" * (MAX - 16) + '"}',
        "escapes": '{"a":"' + "\\u00e9" * ((MAX - 16) // 6) + '"}',
        "graph-items": arr(
            '{"id":"A%d","subject":"s","from":{"emailAddress":'
            '{"address":"a@b.example"}},'
            '"receivedDateTime":"2026-11-20T14:03:00Z"}' % i
            for i in range(39990)),
    }
    for name, text in cases.items():
        assert len(text) <= MAX, name
        with open(os.path.join(d, name + ".json"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
