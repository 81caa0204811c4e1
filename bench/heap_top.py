#!/usr/bin/env python3
"""The top allocation sites of a heap profile (the operator built with
`--features heap-profile`, run with AURA_HEAP_PROFILE=<file>): bytes live at
the peak of the heap (dhat's t-gmax), by site and grouped by the first frame
of this project or of the library that asked for the memory.

    python3 bench/heap_top.py dhat-heap.json [how many]
"""
import json
import re
import sys
from collections import defaultdict

# Frames that only say "memory was allocated": skipped when naming a site.
PLUMBING = re.compile(
    r"dhat::|alloc::|__rust|core::|std::|hashbrown::|<alloc|<core|<std|"
    r"<hashbrown|bytes::|<bytes|serde::|serde_json::|<serde|\?\?\?|tokio::runtime|"
    r"<T as alloc|smallvec|indexmap::|<indexmap"
)


def name(frame):
    # "0x1234: some::path::fn (file:line)" -> "some::path::fn"
    text = frame.split(": ", 1)[-1]
    text = re.sub(r"::h[0-9a-f]{16}", "", text)
    return text.split(" (")[0]


def site(frames, prefix=None):
    names = [name(f) for f in frames]
    if prefix:
        for n in names:
            if prefix in n:
                return n
    for n in names:
        if not PLUMBING.match(n.lstrip("<")) and not PLUMBING.match(n):
            return n
    return names[0] if names else "?"


def main():
    profile = json.load(open(sys.argv[1]))
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    ftbl = profile["ftbl"]
    pps = profile["pps"]
    peak = sum(pp["gb"] for pp in pps)
    mib = lambda b: b / 1048576
    print(f"heap at its peak (t-gmax): {mib(peak):.1f} MiB in {sum(pp['gbk'] for pp in pps)} blocks")
    print(f"heap at the end:          {mib(sum(pp['eb'] for pp in pps)):.1f} MiB")
    for title, prefix in (("first frame of aura_operator", "aura_operator"),
                          ("first frame past the allocator and collections", None)):
        groups = defaultdict(lambda: [0, 0])
        for pp in pps:
            key = site([ftbl[i] for i in pp["fs"]], prefix)
            groups[key][0] += pp["gb"]
            groups[key][1] += pp["gbk"]
        print(f"\nlive at the peak, by {title}:")
        for key, (b, blocks) in sorted(groups.items(), key=lambda kv: -kv[1][0])[:top]:
            print(f"  {mib(b):7.2f} MiB {100 * b / peak:5.1f}% {blocks:8d} blocks  {key}")
    print(f"\nthe {top} largest single sites at the peak (4 frames past the allocator):")
    for pp in sorted(pps, key=lambda pp: -pp["gb"])[:top]:
        names = [name(ftbl[i]) for i in pp["fs"]]
        past = [n for n in names if not n.startswith(("dhat::", "alloc::", "__rust", "<alloc", "core::", "<core", "[root]"))]
        print(f"  {mib(pp['gb']):7.2f} MiB {pp['gbk']:8d} blocks  " + " <- ".join(past[:4]))


if __name__ == "__main__":
    main()
