#!/usr/bin/env python3
"""Keeps at most N files of a fuzz target's corpus, chosen greedily for the most coverage edges.

Run after `cargo fuzz cmin` (see README.md), from fuzz/:
    python3 cap-corpus.py <target> [N=200]
It asks the target's libFuzzer binary for every file's edges (a dry merge into an empty directory)
and deletes the files outside the chosen set.
"""

import pathlib
import subprocess
import sys
import tempfile

target = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 200
binary = pathlib.Path("target/x86_64-unknown-linux-gnu/release") / target
corpus = pathlib.Path("corpus") / target

with tempfile.TemporaryDirectory() as tmp:
    control = pathlib.Path(tmp) / "control"
    empty = pathlib.Path(tmp) / "empty"
    empty.mkdir()
    subprocess.run(
        [binary, "-merge=1", "-use_counters=0", f"-merge_control_file={control}", empty, corpus],
        check=True,
        capture_output=True,
    )
    lines = control.read_text().split("\n")

count = int(lines[0])
files = lines[2 : 2 + count]
edges = {}
for line in lines[2 + count :]:
    parts = line.split()
    if parts and parts[0] == "COV":
        edges[int(parts[1])] = set(map(int, parts[2:]))

chosen, covered = set(), set()
while len(chosen) < limit and edges:
    best = max(edges, key=lambda i: len(edges[i] - covered))
    if not edges[best] - covered:
        break
    chosen.add(best)
    covered |= edges.pop(best)

for index, name in enumerate(files):
    if index not in chosen:
        pathlib.Path(name).unlink()
total = len(covered | set().union(*edges.values())) if edges else len(covered)
print(f"{target}: kept {len(chosen)} of {count} files, {len(covered)} of {total} edges")
