#!/usr/bin/env python3
"""Writes a synthetic Windows base image as an OCI image layout.

The image looks like a Microsoft base (servercore-like) as
docs/windows-layer-format.md and docs/registry.md describe it: a Docker
manifest list whose single entry carries
`os: windows` and `os.version`, a Docker schema-2 manifest, and two gzip
layers (a large base layer and a smaller update layer). Each layer is a PAX
tar with `Hives/` and `Files/` first, every ancestor directory declared,
the registry hives under `Files/Windows/System32/config`, `UtilityVM/Files`
sharing files with `Files/` through hardlinks, and per-entry PAX records
(`MSWINDOWS.fileattr`, `MSWINDOWS.rawsd`, `LIBARCHIVE.creationtime`).

File sizes follow a seeded log-normal distribution scaled to the requested
total, so the file count and size mix are realistic and the output is the
same on every run. File contents are mostly incompressible (a slice of a
random pool) with a compressible tail, roughly the 1.3:1 ratio of real
Windows binaries.

Usage: make_windows_base.py OUT_DIR --mib N --files N [--os-version V] [--tag T]
Needs `pigz` (or falls back to `gzip`). Standard library only otherwise.
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

FILE_SD = (
    "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgBMAAMAAAAAABgA"
    "/wEfAAECAAAAAAAFIAAAACACAAAAABQA/wEfAAEBAAAAAAAFEgAAAAAAGACpABIAAQIAAAAAAAUgAAAA"
    "IQIAAA=="
)
DIR_SD = (
    "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgCoAAcAAAAAAxgA"
    "/wEfAAECAAAAAAAFIAAAACACAAAAAxQA/wEfAAEBAAAAAAAFEgAAAAAAGAD/AR8AAQIAAAAAAAUgAAAA"
    "IAIAAAALFAAAAAAQAQEAAAAAAAMAAAAAAAMYAKkAEgABAgAAAAAABSAAAAAhAgAAAAIYAAQAAAABAgAA"
    "AAAABSAAAAAhAgAAAAIYAAIAAAABAgAAAAAABSAAAAAhAgAA"
)
CREATION = "1700000000.000000005"
HIVES = ["DEFAULT", "SAM", "SECURITY", "SOFTWARE", "SYSTEM"]
DELTAS = ["DefaultUser_Delta", "Sam_Delta", "Security_Delta", "Software_Delta", "System_Delta"]
TOP_DIRS = [
    "Windows/System32",
    "Windows/SysWOW64",
    "Windows/WinSxS",
    "Windows/Microsoft.NET/Framework64",
    "Windows/servicing/Packages",
    "Program Files/WindowsPowerShell/Modules",
    "Program Files/Common Files/microsoft shared",
    "ProgramData/Microsoft/Windows",
    "Users/Default/AppData/Local",
]
EXTS = [".dll", ".dll", ".dll", ".exe", ".mui", ".sys", ".cat", ".manifest", ".xml", ".ps1"]


class HashingWriter(io.RawIOBase):
    """Passes writes on to `sink`, hashing them (the layer's diff_id)."""

    def __init__(self, sink):
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self):
        return True

    def write(self, b):
        self.sha.update(b)
        self.sink.write(b)
        self.size += len(b)
        return len(b)


class Content:
    """Deterministic file contents: a random pool slice plus a compressible tail."""

    def __init__(self, rng):
        self.pool = rng.randbytes(64 << 20)
        self.rng = rng

    def reader(self, size):
        text = (size * 1) // 4
        rand = size - text
        off = self.rng.randrange(0, len(self.pool) - min(rand, len(self.pool) - 1))
        parts = []
        remaining = rand
        while remaining > 0:
            n = min(remaining, len(self.pool) - off)
            parts.append(memoryview(self.pool)[off : off + n])
            remaining -= n
            off = 0
        unit = b"MZ\x90\x00 synthetic windows file \x00\x00"
        tail = (unit * (text // len(unit) + 1))[:text]
        # tarfile treats a short read as truncation: buffer to full reads.
        return io.BufferedReader(ChainReader(parts + [tail]), buffer_size=1 << 20)


class ChainReader(io.RawIOBase):
    def __init__(self, parts):
        self.parts = list(parts)
        self.pos = 0

    def readable(self):
        return True

    def readinto(self, b):
        while self.parts:
            part = self.parts[0]
            n = min(len(b), len(part) - self.pos)
            if n <= 0:
                self.parts.pop(0)
                self.pos = 0
                continue
            b[:n] = part[self.pos : self.pos + n]
            self.pos += n
            return n
        return 0


def pax(attr, sd):
    return {
        "MSWINDOWS.fileattr": str(attr),
        "MSWINDOWS.rawsd": sd,
        "LIBARCHIVE.creationtime": CREATION,
    }


def add_dir(tar, name, declared):
    if name in declared:
        return
    parent = name.rsplit("/", 1)[0] if "/" in name else None
    if parent:
        add_dir(tar, parent, declared)
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = 1700000000
    info.pax_headers = pax(16, DIR_SD)
    tar.addfile(info)
    declared.add(name)


def add_file(tar, name, size, content, declared):
    add_dir(tar, name.rsplit("/", 1)[0], declared)
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 1700000000
    info.pax_headers = pax(32, FILE_SD)
    tar.addfile(info, content.reader(size))


def add_hardlink(tar, name, target, declared):
    add_dir(tar, name.rsplit("/", 1)[0], declared)
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    info.mode = 0o644
    info.mtime = 1700000000
    info.pax_headers = pax(32, FILE_SD)
    tar.addfile(info)


def file_plan(rng, count, total):
    """(path, size) pairs: log-normal sizes scaled to `total` bytes."""
    raw = [rng.lognormvariate(9.0, 2.0) for _ in range(count)]
    scale = total / sum(raw)
    files = []
    dirs_per_top = max(1, count // 400)
    for i, r in enumerate(raw):
        top = TOP_DIRS[i % len(TOP_DIRS)]
        sub = f"{top}/component_{rng.randrange(dirs_per_top):04d}"
        if rng.random() < 0.3:
            sub += f"/sub_{rng.randrange(8)}"
        name = f"Files/{sub}/file_{i:06d}{rng.choice(EXTS)}"
        files.append((name, max(0, int(r * scale))))
    return files


def write_layer(path, files, hardlinks, content, with_hives):
    """Writes one gzip layer; returns (digest, size, diff_id)."""
    gz = shutil.which("pigz") or shutil.which("gzip")
    if gz is None:
        sys.exit("make_windows_base.py: needs pigz or gzip")
    with open(path, "wb") as out:
        proc = subprocess.Popen([gz, "-1", "-c"], stdin=subprocess.PIPE, stdout=out)
        sink = HashingWriter(proc.stdin)
        buffered = io.BufferedWriter(sink, buffer_size=1 << 20)
        declared = set()
        with tarfile.open(fileobj=buffered, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            add_dir(tar, "Hives", declared)
            add_dir(tar, "Files", declared)
            if with_hives:
                for d in DELTAS:
                    info = tarfile.TarInfo(f"Hives/{d}")
                    data = f"delta {d}".encode() * 64
                    info.size = len(data)
                    info.mtime = 1700000000
                    info.pax_headers = pax(32, FILE_SD)
                    tar.addfile(info, io.BytesIO(data))
                for h in HIVES:
                    add_file(tar, f"Files/Windows/System32/config/{h}", 256 << 10, content, declared)
            for name, size in files:
                add_file(tar, name, size, content, declared)
            for name, target in hardlinks:
                add_hardlink(tar, name, target, declared)
        buffered.flush()
        proc.stdin.close()
        if proc.wait() != 0:
            sys.exit(f"make_windows_base.py: {gz} failed")
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            sha.update(chunk)
            size += len(chunk)
    return "sha256:" + sha.hexdigest(), size, "sha256:" + sink.sha.hexdigest()


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--mib", type=int, required=True, help="total file bytes, MiB")
    ap.add_argument("--files", type=int, required=True, help="number of regular files")
    ap.add_argument("--os-version", default="10.0.20348.2113")
    ap.add_argument("--tag", default="ltsc2022")
    args = ap.parse_args()

    rng = random.Random(20348)
    content = Content(rng)
    layout = args.out
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)

    total = args.mib << 20
    files = file_plan(rng, args.files, total)
    split = int(len(files) * 0.9)
    base_files, update_files = files[:split], files[split:]
    # The utility VM shares a sixth of the base's files through hardlinks.
    shared = base_files[:: 6]
    hardlinks = [("UtilityVM/" + name, name) for name, _ in shared]

    layers = []
    for i, (lfiles, links, hives) in enumerate(
        [(base_files, hardlinks, True), (update_files, [], False)]
    ):
        tmp = os.path.join(layout, f"layer{i}.tmp")
        digest, size, diff_id = write_layer(tmp, lfiles, links, content, hives)
        os.rename(tmp, os.path.join(layout, "blobs", "sha256", digest.split(":")[1]))
        layers.append((digest, size, diff_id))
        print(f"layer {i}: {len(lfiles)} files, {len(links)} hardlinks, {size} bytes gzip", file=sys.stderr)

    config = {
        "architecture": "amd64",
        "os": "windows",
        "os.version": args.os_version,
        "config": {"Cmd": ["c:\\windows\\system32\\cmd.exe"]},
        "rootfs": {"type": "layers", "diff_ids": [d for _, _, d in layers]},
        "history": [{"created_by": "synthetic Windows base (bench/make_windows_base.py)"}] * 2,
    }
    c_digest, c_size = put_blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": c_digest,
            "size": c_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "digest": d,
                "size": s,
            }
            for d, s, _ in layers
        ],
    }
    m_digest, m_size = put_blob(layout, json.dumps(manifest).encode())
    mlist = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": m_digest,
                "size": m_size,
                "platform": {
                    "architecture": "amd64",
                    "os": "windows",
                    "os.version": args.os_version,
                },
            }
        ],
    }
    l_digest, l_size = put_blob(layout, json.dumps(mlist).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": mlist["mediaType"],
                "digest": l_digest,
                "size": l_size,
                "annotations": {"org.opencontainers.image.ref.name": args.tag},
            }
        ],
    }
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    total_blobs = sum(s for _, s, _ in layers)
    print(json.dumps({"layers": [d for d, _, _ in layers], "layer_bytes": total_blobs}))


if __name__ == "__main__":
    main()
