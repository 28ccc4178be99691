#!/usr/bin/env python3
"""Builds a large benchmark repository with git fast-import: the Go
toolchain's src/ as a first commit, then COMMITS commits that each edit a few
text files, on a main branch with a side branch and a tag, then repacks it.

    bench/mkrepo.py OUT_DIR [COMMITS]
"""
import os, random, subprocess, sys

out = sys.argv[1]
commits = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
goroot = subprocess.check_output(["go", "env", "GOROOT"], text=True).strip()
src = os.path.join(goroot, "src")
rng = random.Random(1)

files = {}
for dp, dn, fn in os.walk(src):
    for f in fn:
        p = os.path.join(dp, f)
        if os.path.islink(p):
            continue
        rel = os.path.relpath(p, src)
        with open(p, "rb") as fh:
            files[rel] = fh.read()
text = sorted(p for p, d in files.items() if p.endswith(".go") and b"\0" not in d[:8000])

subprocess.run(["git", "init", "-q", "-b", "main", out], check=True)
fi = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=out, stdin=subprocess.PIPE)
w = fi.stdin
t = 1600000000

def data(b):
    w.write(b"data %d\n" % len(b))
    w.write(b)
    w.write(b"\n")

def commit(ref, msg, changes, parent=None, mark=None):
    global t
    t += 60
    w.write(b"commit %s\n" % ref.encode())
    if mark:
        w.write(b"mark :%d\n" % mark)
    w.write(b"author Bench <bench@example.invalid> %d +0000\n" % t)
    w.write(b"committer Bench <bench@example.invalid> %d +0000\n" % t)
    data(msg.encode())
    if parent:
        w.write(b"from %s\n" % parent.encode())
    for path, content in changes:
        w.write(b"M 100644 inline %s\n" % path.encode())
        data(content)

commit("refs/heads/main", "import src", sorted(files.items()), mark=1)
for i in range(commits):
    changes = []
    for _ in range(rng.randint(1, 3)):
        p = rng.choice(text)
        lines = files[p].split(b"\n")
        j = rng.randrange(len(lines))
        lines.insert(j, b"// edit %d: %x" % (i, rng.getrandbits(64)))
        files[p] = b"\n".join(lines)
        changes.append((p, files[p]))
    ref = "refs/heads/side" if i % 10 == 9 else "refs/heads/main"
    parent = None
    if i == 9:
        parent = ":1"
    commit(ref, "edit %d" % i, changes, parent=parent, mark=i + 2)
w.write(b"reset refs/tags/bench\nfrom :%d\n\n" % (commits // 2))
w.close()
if fi.wait() != 0:
    sys.exit("fast-import failed")
subprocess.run(["git", "repack", "-adq"], cwd=out, check=True)
print(out)
