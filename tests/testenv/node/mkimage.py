#!/usr/bin/env python3
"""Writes a single-layer OCI image archive (an image-layout tar) without a
registry or an image builder: `ctr images import` reads it (the image's name
is its io.containerd.image.name annotation). Python's standard library only.

usage: mkimage.py OUT.tar SPEC-JSON

SPEC: {"ref": "localhost/x/y:1",
       "files": [[source, path in the image, mode], ...],
       "entrypoint": [...], "cmd": [...], "user": "uid:gid",
       "exposed_ports": ["8081/tcp"], "workdir": "/", "env": ["K=V"]}
Every file is owned by root; parent folders are made (0755), and so are
/proc, /sys, /dev, /etc, /run, /var and /tmp (1777). Deterministic: the same
inputs give the same digests.
"""
import gzip, hashlib, io, json, os, sys, tarfile


def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def layer(files):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs = set()

        def mkdir(d, mode=0o755):
            if d and d not in dirs:
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, 0
                t.addfile(ti)
                dirs.add(d)

        for d, mode in (("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("etc", 0o755),
                        ("run", 0o755), ("var", 0o755), ("tmp", 0o1777)):
            mkdir(d, mode)
        for src, dst, mode in sorted(files, key=lambda f: f[1]):
            parts = dst.strip("/").split("/")
            for i in range(1, len(parts)):
                mkdir("/".join(parts[:i]))
            with open(src, "rb") as f:
                data = f.read()
            ti = tarfile.TarInfo(dst.strip("/"))
            ti.size, ti.mode, ti.mtime = len(data), mode, 0
            t.addfile(ti, io.BytesIO(data))
    return raw.getvalue()


def main():
    write(sys.argv[1], json.loads(sys.argv[2]))


def write(out, spec):
    ref = spec["ref"]
    layer_tar = layer(spec["files"])
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(layer_tar)
    layer_d, layer_b = blob(gz.getvalue())
    config = {"Entrypoint": spec["entrypoint"], "Env": spec.get("env", ["PATH=/usr/local/bin:/usr/bin:/bin"]),
              "WorkingDir": spec.get("workdir", "/")}
    if spec.get("cmd"):
        config["Cmd"] = spec["cmd"]
    if spec.get("user"):
        config["User"] = spec["user"]
    if spec.get("exposed_ports"):
        config["ExposedPorts"] = {p: {} for p in spec["exposed_ports"]}
    image = {"architecture": "amd64", "os": "linux", "config": config,
             "rootfs": {"type": "layers", "diff_ids": [diff_id]},
             "history": [{"created_by": "tests/testenv/node/mkimage.py"}]}
    config_d, config_b = blob(json.dumps(image, separators=(",", ":")).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_d, "size": len(config_b)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_d, "size": len(layer_b)}],
    }
    manifest_d, manifest_b = blob(json.dumps(manifest, separators=(",", ":")).encode())
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": manifest_d, "size": len(manifest_b),
                            "platform": {"architecture": "amd64", "os": "linux"},
                            "annotations": {"io.containerd.image.name": ref,
                                            "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1]}}]}
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
            t.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index).encode())
        for d, b in ((layer_d, layer_b), (config_d, config_b), (manifest_d, manifest_b)):
            add("blobs/sha256/" + d.split(":")[1], b)
    os.replace(tmp, out)
    print(ref, manifest_d)


if __name__ == "__main__":
    main()
