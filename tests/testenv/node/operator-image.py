#!/usr/bin/env python3
"""Builds the operator's image for the test node from a release binary, with
the layout of the Dockerfile's runtime stage (operator-image.json says it;
tests/e2e/node.rs checks it against the Dockerfile): the binary, the shared
libraries it loads (ldd: the binary links glibc dynamically, as the
distroless cc base provides), the CA certificates, /etc/passwd and /etc/group
with the non-root user, that user, the entrypoint, command and port.

usage: operator-image.py OUT.tar BINARY
Prints the image name and manifest digest.
"""
import json, os, re, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import mkimage  # noqa: E402


def libraries(binary):
    """(path the loader looks for, file to copy) for each library ldd names."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if out.returncode != 0:  # a static binary: "not a dynamic executable"
        return []
    libs = []
    for line in out.stdout.splitlines():
        m = re.match(r"\s*\S+ => (/\S+) \(", line) or re.match(r"\s*(/\S+) \(", line)
        if m:
            libs.append((m.group(1), os.path.realpath(m.group(1))))
    return libs


def main():
    out, binary = sys.argv[1], sys.argv[2]
    with open(os.path.join(here, "operator-image.json")) as f:
        spec = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("passwd", "group"):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(spec[name])
        files = [[binary, spec["binary"], 0o755],
                 [spec["ca_certificates"], spec["ca_certificates"], 0o644],
                 [os.path.join(tmp, "passwd"), "/etc/passwd", 0o644],
                 [os.path.join(tmp, "group"), "/etc/group", 0o644]]
        files += [[real, path, 0o755] for path, real in libraries(binary)]
        mkimage.write(out, {k: spec[k] for k in ("ref", "user", "workdir", "exposed_ports", "entrypoint", "cmd")}
                      | {"files": files})


main()
