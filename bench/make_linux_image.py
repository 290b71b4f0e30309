#!/usr/bin/env python3
"""Writes a multi-layer Linux image of a given size as an OCI image layout.

Used for the push/pull case: several gzip layers of deterministic,
mostly incompressible files (so the blobs are about the requested size),
OCI media types, tagged `1`.

Usage: make_linux_image.py OUT_DIR --mib N [--layers N]
Needs `pigz` (or `gzip`). Standard library only otherwise.
"""

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile

from make_windows_base import Content, HashingWriter, put_blob


def write_layer(path, index, files, content):
    gz = shutil.which("pigz") or shutil.which("gzip")
    if gz is None:
        sys.exit("make_linux_image.py: needs pigz or gzip")
    with open(path, "wb") as out:
        proc = subprocess.Popen([gz, "-1", "-c"], stdin=subprocess.PIPE, stdout=out)
        sink = HashingWriter(proc.stdin)
        buffered = io.BufferedWriter(sink, buffer_size=1 << 20)
        with tarfile.open(fileobj=buffered, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for d in ["data", f"data/layer{index}"]:
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                info.mtime = 1700000000
                tar.addfile(info)
            for name, size in files:
                info = tarfile.TarInfo(f"data/layer{index}/{name}")
                info.size = size
                info.mode = 0o644
                info.mtime = 1700000000
                tar.addfile(info, content.reader(size))
        buffered.flush()
        proc.stdin.close()
        if proc.wait() != 0:
            sys.exit(f"make_linux_image.py: {gz} failed")
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return "sha256:" + sha.hexdigest(), size, "sha256:" + sink.sha.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--mib", type=int, required=True, help="total blob bytes, MiB (about)")
    ap.add_argument("--layers", type=int, default=4)
    args = ap.parse_args()

    rng = random.Random(1024)
    content = Content(rng)
    layout = args.out
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    # Content is a quarter compressible text: ask for a third more bytes.
    per_layer = (args.mib << 20) * 4 // 3 // args.layers
    layers = []
    for i in range(args.layers):
        files = []
        left = per_layer
        n = 0
        while left > 0:
            s = min(left, int(rng.lognormvariate(12.0, 1.5)))
            files.append((f"file{n:05d}.bin", s))
            left -= s
            n += 1
        tmp = os.path.join(layout, f"layer{i}.tmp")
        digest, size, diff_id = write_layer(tmp, i, files, content)
        os.rename(tmp, os.path.join(layout, "blobs", "sha256", digest.split(":")[1]))
        layers.append((digest, size, diff_id))
        print(f"layer {i}: {len(files)} files, {size} bytes gzip", file=sys.stderr)

    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [d for _, _, d in layers]},
    }
    c_digest, c_size = put_blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c_digest, "size": c_size},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s}
            for d, s, _ in layers
        ],
    }
    m_digest, m_size = put_blob(layout, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": m_digest,
                "size": m_size,
                "annotations": {"org.opencontainers.image.ref.name": "1"},
            }
        ],
    }
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    print(json.dumps({"layers": [d for d, _, _ in layers], "layer_bytes": sum(s for _, s, _ in layers)}))


if __name__ == "__main__":
    main()
