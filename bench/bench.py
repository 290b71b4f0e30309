#!/usr/bin/env python3
"""Wharf against its peers (buildah, skopeo), case by case, in one run.

Started by `bench/run.sh`, which installs the peers and builds wharf. This
file starts a loopback `docker-registry`, makes the fixtures (a busybox
base pushed with skopeo, a tree of real files from a Debian minbase root, a
synthetic ~2 GiB Windows base, a ~1 GiB multi-layer Linux image), then runs
each case for wharf and its peer alternately, RUNS times, and reports
medians, wharf/peer ratios and peak RSS (`/usr/bin/time -v`, the largest
process of the measured command).

A case whose command fails is reported as FAILED TO RUN and makes the run
exit non-zero; a slow case is only reported. Standard library only.

Environment:
  WHARF_BENCH_RUNS   repetitions per contender (default 3)
  WHARF_BENCH_QUICK  1: tiny fixtures, for developing the harness
  WHARF_BENCH_CASES  comma-separated case numbers to run (default all)
  WHARF_BENCH_WORK   scratch directory (default /var/tmp/wharf-bench)
  WHARF_BENCH_DISK   where stores, registries and contexts live, and how
                     a run's directories go away (see mount_disk):
                     "keep" (default) WORK/disk on WORK's own file system,
                     nothing deleted until every case has run;
                     "loop" a fresh ext4 with a journal on a loop device
                     (direct I/O), mounted at WORK/disk for the run;
                     "direct" WORK/disk, each run's directories deleted
                     before the next run
  WHARF_BENCH_DISK_GIB  size of the loop file system (default 64; sparse)
  WHARF_BENCH_CACHE  fixture cache (default /var/cache/wharf-test)
  WHARF_BENCH_OUT    where to write the Markdown results (default: the
                     section of BENCHMARKS.md between its bench markers for
                     a full run of every case, else WORK/results.md)
  WHARF_BIN          the wharf binary (run.sh sets it)
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
RUNS = int(os.environ.get("WHARF_BENCH_RUNS", "3"))
QUICK = os.environ.get("WHARF_BENCH_QUICK", "") not in ("", "0")
CASES = [int(c) for c in os.environ.get("WHARF_BENCH_CASES", "1,2,3,4,5,6,7,8,9").split(",") if c]
WORK = Path(os.environ.get("WHARF_BENCH_WORK", "/var/tmp/wharf-bench"))
CACHE = Path(os.environ.get("WHARF_BENCH_CACHE", "/var/cache/wharf-test"))
WHARF = os.environ.get("WHARF_BIN", str(REPO / "target/release/wharf"))
MINBASE = Path(os.environ.get("WHARF_DEBIAN_ROOT", str(CACHE / "bookworm-minbase")))
WIN_VERSION = "10.0.20348.2113"
LOGS = WORK / time.strftime("logs-%Y%m%dT%H%M%S")
DISK = WORK / "disk"
DISK_MODE = os.environ.get("WHARF_BENCH_DISK", "keep")
RETIRED = DISK / ".retired"
CLEANED = WORK / ".cleaned"  # when the last run's cleanup ended
_retired = [0]
DISK_NOTE = ""
MARK_BEGIN = "<!-- bench/run.sh: begin -->"
MARK_END = "<!-- bench/run.sh: end -->"

# Fixture sizes: full run, quick run.
SIZES = {
    "src_files": (2000, 100),
    "src_mib": (40, 2),
    "copy_tree": (str(CACHE / "bench-tree"), str(MINBASE / "usr/share")),
    "win_mib": (2600, 40),
    "win_files": (90000, 3000),
    "win_app": (str(MINBASE / "usr"), str(MINBASE / "usr/sbin")),
    "big_mib": (1024, 64),
}


def size(name):
    full, quick = SIZES[name]
    return quick if QUICK else full


class CaseFailed(Exception):
    """A measured command failed: the case cannot be reported."""


class Sample:
    def __init__(self, secs, rss_kib, log):
        self.secs = secs
        self.rss_kib = rss_kib
        self.log = log


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(argv, **kw):
    """Runs a setup command (not measured); raises CaseFailed on failure."""
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise CaseFailed(f"{' '.join(map(str, argv))} exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r.stdout


_counter = [0]


def measure(label, argv, cwd=None, stamp_stderr=False):
    """Runs argv under /usr/bin/time -v; returns its wall time and peak RSS.

    With stamp_stderr, every stderr line is written to the log prefixed by
    the seconds since the start (wharf's `--progress json` events carry no
    time of their own; this turns them into step timings)."""
    _counter[0] += 1
    logs = LOGS
    logs.mkdir(parents=True, exist_ok=True)
    base = logs / f"{_counter[0]:03d}-{label}"
    tfile = base.with_suffix(".time")
    out = open(base.with_suffix(".log"), "w")
    out.write("$ " + " ".join(map(str, argv)) + "\n")
    out.flush()
    cmd = ["/usr/bin/time", "-v", "-o", str(tfile)] + [str(a) for a in argv]
    t0 = time.monotonic()
    if stamp_stderr:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            out.write(f"+{time.monotonic() - t0:9.3f} {line}")
        rc = p.wait()
    else:
        rc = subprocess.call(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    secs = time.monotonic() - t0
    out.close()
    rss = 0
    if tfile.exists():
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tfile.read_text())
        rss = int(m.group(1)) if m else 0
    if rc != 0:
        tail = base.with_suffix(".log").read_text()[-1500:]
        raise CaseFailed(f"{label}: `{' '.join(map(str, argv))}` exited {rc}; log {base}.log:\n{tail}")
    log(f"{label}: {secs:.2f}s, peak RSS {rss / 1024:.1f} MiB")
    return Sample(secs, rss, base.with_suffix(".log"))


def fresh(path):
    path = Path(path)
    if path.exists():
        rmtree(path)
    path.mkdir(parents=True)
    return path


def rmtree(path):
    # buildah's overlay storage may leave mounts behind; unmount first.
    path = Path(path)
    if not path.exists():
        return
    mounts = [
        line.split()[1]
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if line.split()[1].startswith(str(path) + "/")
    ]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.call(["umount", "-l", m], stderr=subprocess.DEVNULL)
    if DISK_MODE == "keep" and str(path).startswith(str(DISK) + "/") and path != RETIRED:
        # Moved aside, deleted when every case has run (see mount_disk).
        RETIRED.mkdir(parents=True, exist_ok=True)
        _retired[0] += 1
        path.rename(RETIRED / str(_retired[0]))
        return
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- registry


class Registry:
    """A `docker-registry` on a free loopback port, logging every request.

    The access log (combined format, on the registry's stdout) is what case
    5 counts downloaded base-layer bytes from."""

    def __init__(self, root):
        self.root = fresh(root)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: wharf-bench\n"
        )
        self.access = self.root / "access.log"
        self.proc = subprocess.Popen(
            ["/usr/bin/docker-registry", "serve", str(config)],
            stdout=open(self.access, "w"),
            stderr=open(self.root / "registry.log", "w"),
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise CaseFailed(f"docker-registry did not start; see {self.root / 'registry.log'}")

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def log_offset(self):
        return self.access.stat().st_size

    def blob_gets(self, since):
        """(digest, bytes sent) of every blob GET after log offset `since`."""
        with open(self.access) as f:
            f.seek(since)
            text = f.read()
        gets = []
        for m in re.finditer(r'"GET /v2/\S+/blobs/(sha256:[0-9a-f]{64}) HTTP/[0-9.]+" (\d+) (\d+|-)', text):
            sent = 0 if m.group(3) == "-" else int(m.group(3))
            gets.append((m.group(1), sent))
        return gets

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- fixtures


def busybox_layout():
    """An OCI layout holding a busybox image, made with umoci (not wharf)."""
    layout = CACHE / "bench-busybox"
    if not (layout / "index.json").exists():
        tmp = fresh(DISK / "busybox-build")
        lay, bundle = tmp / "layout", tmp / "bundle"
        sh(["umoci", "init", "--layout", lay])
        sh(["umoci", "new", "--image", f"{lay}:1"])
        sh(["umoci", "unpack", "--image", f"{lay}:1", bundle])
        root = bundle / "rootfs"
        for d in ["bin", "etc", "tmp", "root", "usr/bin", "usr/sbin", "sbin"]:
            (root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(root / "tmp", 0o1777)
        shutil.copy2("/bin/busybox", root / "bin/busybox")
        for applet in sh(["/bin/busybox", "--list-full"]).split():
            target = root / applet
            if not target.exists() and not target.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to("/bin/busybox")
        (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (root / "etc/group").write_text("root:x:0:\n")
        sh(["umoci", "repack", "--image", f"{lay}:1", bundle])
        sh(["umoci", "config", "--image", f"{lay}:1", "--config.cmd", "/bin/sh",
            "--config.env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
        shutil.rmtree(layout, ignore_errors=True)
        shutil.copytree(lay, layout)
        rmtree(tmp)
    return layout


def push_layout(layout, tag, reg, name):
    sh(["skopeo", "copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:{tag}",
        f"docker://{reg.host}/{name}"])


def push_layout_http(layout, tag, reg, repo):
    """Pushes an OCI layout's image (manifest list included) through the
    registry API, byte for byte. skopeo 1.9 does not accept a Docker
    manifest list in an OCI layout, and Microsoft's bases are exactly that."""
    def blob_path(digest):
        return layout / "blobs/sha256" / digest.split(":")[1]

    def request(method, path, body=None, headers=None, expect=(200, 201, 202)):
        conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=600)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if resp.status not in expect:
            raise CaseFailed(f"{method} {path} -> {resp.status}: {data[:300]!r}")
        return resp

    def put_blob(digest):
        if request("HEAD", f"/v2/{repo}/blobs/{digest}", expect=(200, 404)).status == 200:
            return
        loc = request("POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
        loc = loc.split("127.0.0.1:%d" % reg.port, 1)[-1]
        sep = "&" if "?" in loc else "?"
        path = blob_path(digest)
        with open(path, "rb") as f:
            request("PUT", f"{loc}{sep}digest={digest}", body=f,
                    headers={"Content-Length": str(path.stat().st_size),
                             "Content-Type": "application/octet-stream"})

    def put_manifest(digest, ref):
        data = blob_path(digest).read_bytes()
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise CaseFailed(f"{blob_path(digest)} does not match its digest: remake the fixture")
        doc = json.loads(data)
        for child in doc.get("manifests", []):
            put_manifest(child["digest"], child["digest"])
        if "config" in doc:
            put_blob(doc["config"]["digest"])
        for layer in doc.get("layers", []):
            put_blob(layer["digest"])
        request("PUT", f"/v2/{repo}/manifests/{ref}", body=data,
                headers={"Content-Type": doc["mediaType"]})

    index = json.loads((layout / "index.json").read_text())
    desc = next(m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    put_manifest(desc["digest"], tag)


def windows_layout():
    mib, files = size("win_mib"), size("win_files")
    layout = CACHE / f"bench-windows-base-{mib}m-{files}f"
    if not (layout / "index.json").exists():
        log(f"making the synthetic Windows base ({mib} MiB of files, {files} files)")
        tmp = layout.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        sh([sys.executable, BENCH / "make_windows_base.py", tmp, "--mib", str(mib),
            "--files", str(files), "--os-version", WIN_VERSION])
        tmp.rename(layout)
    return layout


def big_layout():
    mib = size("big_mib")
    layout = CACHE / f"bench-linux-{mib}m"
    if not (layout / "index.json").exists():
        log(f"making the {mib} MiB Linux image")
        tmp = layout.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        sh([sys.executable, BENCH / "make_linux_image.py", tmp, "--mib", str(mib), "--layers", "4"])
        tmp.rename(layout)
    return layout


def layout_layers(layout, tag):
    """(digest, size) of the layers of the image tagged `tag` in an OCI layout
    (following one manifest list, as the Windows fixture has)."""
    def blob(d):
        return json.loads((layout / "blobs/sha256" / d.split(":")[1]).read_text())

    index = json.loads((layout / "index.json").read_text())
    desc = next(m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    doc = blob(desc["digest"])
    if "manifests" in doc:
        doc = blob(doc["manifests"][0]["digest"])
    return [(layer["digest"], layer["size"]) for layer in doc["layers"]]


def source_tree(ctx):
    """The multi-stage build's context: generated sources, a config dir."""
    files, mib = size("src_files"), size("src_mib")
    src = fresh(ctx / "src")
    per = (mib << 20) // files
    line = b"static int value_%06d = %d; /* generated source for the benchmark */\n"
    for i in range(files):
        d = src / f"mod{i % 40:02d}"
        d.mkdir(exist_ok=True)
        body = b"".join(line % (i, j) for j in range(per // 72 + 1))[:per]
        (d / f"file{i:05d}.c").write_bytes(body)
    (fresh(ctx / "config") / "app.conf").write_text("mode=prod\n")


def ensure_copy_tree():
    tree = Path(size("copy_tree"))
    if tree.exists():
        return tree
    if tree == CACHE / "bench-tree":
        # Six copies of the Debian minbase root, as the layer benchmark uses.
        tmp = fresh(tree.with_suffix(".tmp"))
        for i in range(1, 7):
            sh(["cp", "-a", MINBASE, tmp / f"copy{i}"])
        tmp.rename(tree)
        return tree
    raise CaseFailed(f"no tree at {tree}: run bench/run.sh (it makes the Debian minbase root)")


def windows_app_context():
    """A copy of the Windows COPY's source tree without the paths that only
    differ in case from an earlier one (a Windows layer cannot hold both;
    Debian's usr/share/man/man7 has PAM.7.gz and pam.7.gz)."""
    src = Path(size("win_app"))
    ctx = DISK / "ctx-windows"
    if (ctx / ".ready").exists():
        return ctx, [d for d in (ctx / ".ready").read_text().splitlines() if d]
    rmtree(ctx)
    sh(["cp", "-a", src, ctx])
    seen, dropped = set(), []
    for dirpath, dirnames, filenames in os.walk(ctx):
        for name in sorted(dirnames) + sorted(filenames):
            p = os.path.join(dirpath, name)
            key = p.lower()
            if key in seen:
                dropped.append(os.path.relpath(p, ctx))
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
            seen.add(key)
        dirnames[:] = [d for d in dirnames if os.path.exists(os.path.join(dirpath, d))]
    (ctx / ".dockerignore").write_text(".ready\n.dockerignore\n")
    (ctx / ".ready").write_text("\n".join(dropped))
    return ctx, dropped


def warm_page_cache(tree):
    subprocess.run(f"tar -c -C '{tree}' . | wc -c", shell=True, capture_output=True)


def tree_bytes(tree):
    out = subprocess.run(["du", "-sb", str(tree)], capture_output=True, text=True).stdout
    files = subprocess.run(f"find '{tree}' -type f | wc -l", shell=True, capture_output=True,
                           text=True).stdout
    return int(out.split()[0]), int(files.strip() or 0)


# ---------------------------------------------------------------- contenders

STORAGE_DRIVER = os.environ.get("WHARF_BENCH_BUILDAH_DRIVER", "overlay")


def wharf(*args):
    return [WHARF, *args]


def buildah(root, *args):
    """buildah with its own storage under `root` (a cold or warm cache made
    explicit), chroot isolation and runc as this kernel needs."""
    return ["buildah", "--root", Path(root) / "root", "--runroot", Path(root) / "run",
            "--storage-driver", STORAGE_DRIVER, *args]


def bud(root, *args):
    return buildah(root, "bud", "--isolation", "chroot", "--runtime", "runc",
                   "--tls-verify=false", "--quiet", *args)


def combine(samples):
    """Several commands measured as one step: times add, RSS is the peak."""
    return Sample(sum(s.secs for s in samples), max(s.rss_kib for s in samples), samples[-1].log)


def step_timings(log_path):
    """Seconds per wharf step, from a `--progress json` log stamped by
    measure(): [(instruction, seconds, cached)]."""
    started = {}
    steps = []
    for line in Path(log_path).read_text().splitlines():
        m = re.match(r"\+\s*([0-9.]+) (\{.*\})$", line)
        if not m:
            continue
        t = float(m.group(1))
        try:
            e = json.loads(m.group(2))
        except ValueError:
            continue
        key = (e.get("stage"), e.get("line"), e.get("platform"))
        if e.get("event") == "step-started":
            started[key] = t
        elif e.get("event") == "step":
            steps.append((e.get("instruction", "?"), t - started.get(key, t), e.get("cached")))
        elif e.get("event") == "done":
            steps.append(("(image written)", t, None))
    return steps


def check_layers(store, tag, expected):
    """Fails the case unless wharf's image has the expected layers: a build
    that exits 0 without doing its work must not be reported as fast."""
    info = json.loads(sh(wharf("inspect", "--store", store, tag)))
    layers = info["manifests"][0]["layers"]
    if len(layers) != expected:
        raise CaseFailed(f"wharf built {tag} with {len(layers)} layers, expected {expected}")
    return layers


class Result:
    def __init__(self, number, title, peer, target):
        self.number = number
        self.title = title
        self.peer = peer
        self.target = target
        self.wharf = []
        self.peer_samples = []
        self.failed = None
        self.notes = []
        self.sub = ""  # 6a / 6b
        self.downloaded = None  # case 5: base-layer bytes fetched by the build
        self.base_bytes = None


def note_steps(result):
    """Adds the step timings of wharf's median run to the result's notes."""
    runs = sorted(result.wharf, key=lambda s: s.secs)
    if not runs:
        return
    steps = [(i, t) for i, t, cached in step_timings(runs[len(runs) // 2].log)
             if t >= 0.05 and i != "(image written)"]
    if steps:
        short = ", ".join(f"`{i[:28]}{'…' if len(i) > 28 else ''}` {t:.2f} s" for i, t in steps)
        result.notes.append(f"wharf's median run, steps ≥ 0.05 s: {short}")


def median(samples):
    return statistics.median(s.secs for s in samples) if samples else None


def peak(samples):
    return max(s.rss_kib for s in samples) / 1024 if samples else None


def alternate(result, wharf_run, peer_run):
    """RUNS rounds of wharf then its peer."""
    for i in range(RUNS):
        result.wharf.append(wharf_run(i))
        result.peer_samples.append(peer_run(i))


# ---------------------------------------------------------------- cases

MULTISTAGE = """\
FROM {reg}/bench/busybox:1 AS build
WORKDIR /src
COPY src/ /src/
RUN mkdir -p /out && find . -type f | sort | xargs cat | sha256sum > /out/checksum \\
 && tar -cf /out/app.tar . && wc -c /out/app.tar > /out/size
FROM {reg}/bench/busybox:1
COPY --from=build /out/ /app/
COPY config/ /etc/app/
RUN cut -d' ' -f1 /app/checksum > /app/VERSION && ls -l /app
CMD ["/bin/sh"]
"""


def multistage_context(reg):
    ctx = DISK / "ctx-multistage"
    source_tree(ctx)
    (ctx / "Dockerfile").write_text(MULTISTAGE.format(reg=reg.host))
    return ctx


def case_cold(reg, ctx):
    r = Result(1, "Multi-stage Linux build (RUN + COPY), cold store, base from the loopback registry",
               "`buildah bud`", 0.45)

    def w(i):
        store = fresh(DISK / "c1-wharf")
        s = measure("c1-wharf", wharf("build", "--progress", "json", "--store", store,
                                      "-t", "bench/multistage:1", ctx), stamp_stderr=True)
        # busybox, COPY --from, COPY, RUN.
        check_layers(store, "bench/multistage:1", 4)
        return s

    def b(i):
        root = fresh(DISK / "c1-buildah")
        return measure("c1-buildah", bud(root, "-t", "bench/multistage:1", ctx))

    try:
        alternate(r, w, b)
    finally:
        rmtree(DISK / "c1-wharf")
        rmtree(DISK / "c1-buildah")
    note_steps(r)
    return r


def case_warm(reg, ctx, which):
    """Cases 2 (nothing changed) and 3 (one source file changed), on a store
    and a buildah `--layers` storage that have built the context once."""
    wstore, broot = DISK / "warm-wharf", DISK / "warm-buildah"
    if not (wstore / ".ready").exists():
        fresh(wstore)
        fresh(broot)
        sh(wharf("build", "--progress", "plain", "--store", wstore, "-t", "bench/multistage:1", ctx))
        sh(bud(broot, "--layers", "-t", "bench/multistage:1", ctx))
        (wstore / ".ready").write_text("")
    edited = ctx / "src/mod00/file00000.c"

    def edit(tag):
        with open(edited, "a") as f:
            f.write(f"/* edit {tag} {time.monotonic()} */\n")

    if which == 2:
        r = Result(2, "The same build again, nothing changed", "`buildah bud --layers`", 0.25)
        pre_w = pre_b = lambda i: None
        label = "c2"
    else:
        r = Result(3, "Rebuild after changing one source file", "`buildah bud --layers`", 0.35)
        pre_w = lambda i: edit(f"wharf {i}")
        pre_b = lambda i: edit(f"buildah {i}")
        label = "c3"

    def w(i):
        pre_w(i)
        return measure(f"{label}-wharf", wharf("build", "--progress", "json", "--store", wstore,
                                               "-t", "bench/multistage:1", ctx), stamp_stderr=True)

    def b(i):
        pre_b(i)
        return measure(f"{label}-buildah", bud(broot, "--layers", "-t", "bench/multistage:1", ctx))

    alternate(r, w, b)
    note_steps(r)
    return r


def case_copy_tree():
    tree = ensure_copy_tree()
    nbytes, nfiles = tree_bytes(tree)
    r = Result(4, f"COPY of a {nbytes / 2**30:.2f} GiB tree of real files ({nfiles} files) into a new gzip layer",
               "`buildah bud` + `buildah push oci:` (gzip)", 0.2)
    dockerfile = DISK / "copy-tree.Dockerfile"
    dockerfile.write_text("FROM scratch\nCOPY . /data/\n")
    warm_page_cache(tree)

    def w(i):
        store = fresh(DISK / "c4-wharf")
        s = measure("c4-wharf", wharf("build", "--progress", "json", "--store", store,
                                      "-t", "bench/tree:1", "-f", dockerfile, tree), stamp_stderr=True)
        check_layers(store, "bench/tree:1", 1)
        return s

    def b(i):
        root = fresh(DISK / "c4-buildah")
        out = DISK / "c4-buildah-oci"
        rmtree(out)
        built = measure("c4-buildah-bud", bud(root, "-t", "bench/tree:1", "-f", dockerfile, tree))
        pushed = measure("c4-buildah-push", buildah(root, "push", "--quiet", "bench/tree:1", f"oci:{out}:1"))
        r.notes.append(f"buildah bud {built.secs:.2f} s + push {pushed.secs:.2f} s")
        return combine([built, pushed])

    try:
        alternate(r, w, b)
    finally:
        for d in ["c4-wharf", "c4-buildah", "c4-buildah-oci"]:
            rmtree(DISK / d)
    note_steps(r)
    return r


def case_windows(reg):
    layout = windows_layout()
    base_layers = dict(layout_layers(layout, "ltsc2022"))
    base_bytes = sum(base_layers.values())
    push_layout_http(layout, "ltsc2022", reg, "bench/windows-base")
    app, dropped = windows_app_context()
    nbytes, nfiles = tree_bytes(app)
    r = Result(5, f"Windows COPY-only build on the {base_bytes / 2**30:.2f} GiB Windows base "
                  f"(COPY of {nbytes / 2**20:.0f} MiB, {nfiles} files)",
               "packing the same Windows layer alone (`pack_dir … windows:app`, gzip 6)", 1.1)
    dockerfile = DISK / "windows.Dockerfile"
    dockerfile.write_text(f"FROM {reg.host}/bench/windows-base:ltsc2022\nCOPY . C:/app/\n")
    if dropped:
        r.notes.append(f"dropped from the COPY source as case-only duplicates: {', '.join(dropped)}")
    pack_dir = os.environ.get("WHARF_PACK_DIR", "")
    if not pack_dir or not Path(pack_dir).exists():
        raise CaseFailed("the wharf-layer pack_dir example is missing (WHARF_PACK_DIR); run bench/run.sh")
    warm_page_cache(app)
    downloaded = []
    copy_steps = []

    def w(i):
        store = fresh(DISK / "c5-wharf")
        since = reg.log_offset()
        s = measure("c5-wharf", wharf("build", "--progress", "json", "--platform",
                                      f"windows/amd64:{WIN_VERSION.rsplit('.', 1)[0]}",
                                      "--store", store, "-t", "bench/windows-app:1",
                                      "-f", dockerfile, app), stamp_stderr=True)
        layers = check_layers(store, "bench/windows-app:1", len(base_layers) + 1)
        if [layer.get("present") for layer in layers] != [False] * len(base_layers) + [True]:
            raise CaseFailed(f"unexpected base/app layer presence in the store: {layers}")
        time.sleep(0.2)  # let the registry flush its access log
        downloaded.append(sum(n for d, n in reg.blob_gets(since) if d in base_layers))
        copy_steps.extend(t for instr, t, _ in step_timings(s.log) if instr.startswith("COPY"))
        return s

    def p(i):
        out = DISK / "c5-pack.tgz"
        # The layer the build writes: Windows entries (PAX security
        # descriptors, attributes, the `Files/` tree) under `app`.
        s = measure("c5-pack_dir", [pack_dir, app, out, "gzip:6", "0", "windows:app"])
        out.unlink(missing_ok=True)
        return s

    try:
        alternate(r, w, p)
    finally:
        rmtree(DISK / "c5-wharf")
    r.downloaded = max(downloaded) if downloaded else None
    r.base_bytes = base_bytes
    if copy_steps:
        r.notes.append(f"the COPY step inside wharf's build took {statistics.median(copy_steps):.2f} s (median)")
    return r


def case_push_pull(reg):
    layout = big_layout()
    layers = layout_layers(layout, "1")
    total = sum(s for _, s in layers)
    push_layout(layout, "1", reg, "bench/big:1")
    source = f"{reg.host}/bench/big:1"
    wstore = fresh(DISK / "c6-wharf-src")
    sh(wharf("pull", "--insecure-registry", reg.host, "--store", wstore, source))
    desc = f"{total / 2**30:.2f} GiB image ({len(layers)} layers)"
    push = Result(6, f"Push of a {desc} to an empty loopback registry", "`skopeo copy oci: docker://`", 0.5)
    pull = Result(6, f"Pull of the same image into an empty store", "`skopeo copy docker:// oci:`", 0.5)
    push.sub, pull.sub = "a", "b"

    def push_w(i):
        dest = Registry(DISK / "c6-dest")
        try:
            return measure("c6-push-wharf", wharf("push", "--insecure-registry", dest.host, "--store", wstore,
                                                  source, f"{dest.host}/bench/big:1"))
        finally:
            dest.stop()
            rmtree(DISK / "c6-dest")

    def push_s(i):
        dest = Registry(DISK / "c6-dest")
        try:
            return measure("c6-push-skopeo", ["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                                              f"oci:{layout}:1", f"docker://{dest.host}/bench/big:1"])
        finally:
            dest.stop()
            rmtree(DISK / "c6-dest")

    def pull_w(i):
        store = fresh(DISK / "c6-pull-wharf")
        since = reg.log_offset()
        try:
            s = measure("c6-pull-wharf", wharf("pull", "--insecure-registry", reg.host, "--store", store, source))
        finally:
            rmtree(store)
        if i == 0:
            # Checks the access-log reading that case 5 relies on.
            time.sleep(0.2)
            got = sum(n for _, n in reg.blob_gets(since))
            pull.notes.append(f"registry access log: wharf pull fetched {got} blob bytes; the layers hold {total}")
        return s

    def pull_s(i):
        out = fresh(DISK / "c6-pull-skopeo")
        try:
            return measure("c6-pull-skopeo", ["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                                              f"docker://{source}", f"oci:{out}:1"])
        finally:
            rmtree(out)

    results = []
    for r, w, s in [(push, push_w, push_s), (pull, pull_w, pull_s)]:
        try:
            alternate(r, w, s)
        except CaseFailed as e:
            r.failed = str(e)
        results.append(r)
    rmtree(wstore)
    return results


def case_cache_from(reg, ctx):
    """A fresh CI runner: an empty store and `--cache-from` a registry cache
    another runner pushed, against buildah's `--layers --cache-from`."""
    r = Result(7, "Fresh runner, unchanged project, `--cache-from` a registry cache",
               "`buildah bud --layers --cache-from`", 0.3)
    wcache, bcache = f"{reg.host}/bench/cache-wharf:main", f"{reg.host}/bench/cache-buildah"
    seed_w, seed_b = fresh(DISK / "c7-seed-wharf"), fresh(DISK / "c7-seed-buildah")
    try:
        sh(wharf("build", "--progress", "plain", "--insecure-registry", reg.host, "--store", seed_w,
                 "--cache-to", f"type=registry,ref={wcache},mode=max", ctx))
        sh(bud(seed_b, "--layers", "--cache-to", bcache, ctx))
    finally:
        rmtree(seed_w)
        rmtree(seed_b)
    ran = []

    def w(i):
        store = fresh(DISK / "c7-wharf")
        s = measure("c7-wharf", wharf("build", "--progress", "json", "--insecure-registry", reg.host,
                                      "--store", store, "--cache-from", wcache,
                                      "-t", "bench/multistage:1", ctx), stamp_stderr=True)
        ran.append(sum(1 for i, _, cached in step_timings(s.log)
                       if cached is False and not i.startswith("resolve ")))
        check_layers(store, "bench/multistage:1", 4)
        return s

    def b(i):
        root = fresh(DISK / "c7-buildah")
        return measure("c7-buildah", bud(root, "--layers", "--cache-from", bcache,
                                         "-t", "bench/multistage:1", ctx))

    try:
        alternate(r, w, b)
    finally:
        rmtree(DISK / "c7-wharf")
        rmtree(DISK / "c7-buildah")
    r.notes.append(f"steps wharf did not take from the cache (configuration steps included): {ran}")
    note_steps(r)
    return r


PARALLEL = """\
FROM {reg}/bench/busybox:1 AS left
RUN head -c 400000000 /dev/zero | sha256sum > /left
FROM {reg}/bench/busybox:1 AS right
RUN head -c 400000000 /dev/zero | md5sum > /right
FROM {reg}/bench/busybox:1
COPY --from=left /left /
COPY --from=right /right /
"""


def case_parallel(reg):
    """Two independent CPU-bound stages, two at a time."""
    r = Result(8, "Two independent CPU-bound stages, two jobs", "`buildah bud --jobs 2`", 0.6)
    ctx = fresh(DISK / "ctx-parallel")
    (ctx / "Dockerfile").write_text(PARALLEL.format(reg=reg.host))

    def w(i):
        store = fresh(DISK / "c8-wharf")
        return measure("c8-wharf", wharf("build", "--progress", "json", "-j", "2", "--store", store,
                                         "-t", "bench/parallel:1", ctx), stamp_stderr=True)

    def b(i):
        root = fresh(DISK / "c8-buildah")
        return measure("c8-buildah", bud(root, "--jobs", "2", "-t", "bench/parallel:1", ctx))

    try:
        alternate(r, w, b)
    finally:
        rmtree(DISK / "c8-wharf")
        rmtree(DISK / "c8-buildah")
    note_steps(r)
    return r


WIN_VERSIONS = ["10.0.17763.5122", WIN_VERSION, "10.0.26100.2314"]


def windows_versions_layout():
    """The synthetic Windows base as an index of three Windows versions
    sharing its layers (their configs differ in `os.version` only)."""
    base = windows_layout()
    layout = base.with_name(base.name + "-3v")
    if (layout / "index.json").exists():
        return layout
    tmp = fresh(layout.with_suffix(".tmp"))
    (tmp / "blobs/sha256").mkdir(parents=True)

    def blob(d):
        return (base / "blobs/sha256" / d.split(":")[1]).read_bytes()

    def put(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        (tmp / "blobs/sha256" / d.split(":")[1]).write_bytes(data)
        return d

    index = json.loads((base / "index.json").read_text())
    desc = next(m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "ltsc2022")
    top = json.loads(blob(desc["digest"]))
    manifest = json.loads(blob(top["manifests"][0]["digest"])) if "manifests" in top else top
    for layer in manifest["layers"]:
        name = layer["digest"].split(":")[1]
        os.link(base / "blobs/sha256" / name, tmp / "blobs/sha256" / name)
    config = json.loads(blob(manifest["config"]["digest"]))
    entries = []
    for v in WIN_VERSIONS:
        config["os.version"] = v
        data = json.dumps(config).encode()
        m = dict(manifest, config=dict(manifest["config"], digest=put(data), size=len(data)))
        mdata = json.dumps(m).encode()
        entries.append({"mediaType": m["mediaType"], "digest": put(mdata), "size": len(mdata),
                        "platform": {"architecture": "amd64", "os": "windows", "os.version": v}})
    lst = json.dumps({"schemaVersion": 2,
                      "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                      "manifests": entries}).encode()
    d = put(lst)
    (tmp / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (tmp / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "digest": d,
        "size": len(lst), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    tmp.rename(layout)
    return layout


def case_windows_versions(reg):
    """One build for three Windows versions (one index) against one version."""
    layout = windows_versions_layout()
    push_layout_http(layout, "multi", reg, "bench/windows-multi")
    app, _ = windows_app_context()
    r = Result(9, "Windows COPY-only build for 3 Windows versions (one index)",
               "the same build for 1 version", 1.15)
    dockerfile = DISK / "windows-multi.Dockerfile"
    dockerfile.write_text(f"FROM {reg.host}/bench/windows-multi:multi\nCOPY . C:/app/\n")
    warm_page_cache(app)
    three = ",".join(f"windows/amd64:{v.rsplit('.', 1)[0]}" for v in WIN_VERSIONS)

    def build(label, platforms):
        store = fresh(DISK / f"c9-{label}")
        try:
            return measure(f"c9-{label}", wharf("build", "--progress", "json", "--platform", platforms,
                                                "--store", store, "-t", "bench/windows-multi-app:1",
                                                "-f", dockerfile, app), stamp_stderr=True)
        finally:
            rmtree(DISK / f"c9-{label}")

    alternate(r, lambda i: build("three", three),
              lambda i: build("one", f"windows/amd64:{WIN_VERSION.rsplit('.', 1)[0]}"))
    note_steps(r)
    return r


# ---------------------------------------------------------------- report

TITLES = {
    1: ("Multi-stage Linux build (RUN + COPY), cold store", "`buildah bud`", 0.45),
    2: ("The same build again, nothing changed", "`buildah bud --layers`", 0.25),
    3: ("Rebuild after changing one source file", "`buildah bud --layers`", 0.35),
    4: ("COPY of a ~1 GiB tree of real files into a new gzip layer", "`buildah bud` + `buildah push oci:`", 0.2),
    5: ("Windows COPY-only build on the ~2 GiB Windows base", "packing the same Windows layer alone", 1.1),
    6: ("Push, then pull, of a ~1 GiB image", "`skopeo copy`", 0.5),
    7: ("Fresh runner, unchanged project, `--cache-from` a registry cache", "`buildah bud --layers --cache-from`", 0.3),
    8: ("Two independent CPU-bound stages, two jobs", "`buildah bud --jobs 2`", 0.6),
    9: ("Windows COPY-only build for 3 Windows versions (one index)", "the same build for 1 version", 1.15),
}


def version(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def machine():
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    rev = version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "crates"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": f"{os.cpu_count()} cores ({cpu})",
        "ram": f"{int(mem.split()[1]) / 2**20:.1f} GiB",
        "kernel": os.uname().release,
        "wharf": f"{rev}{' + uncommitted changes in crates/' if dirty else ''} (`{version([WHARF, '--version'])}`)",
        "buildah": version(["buildah", "--version"]),
        "skopeo": version(["skopeo", "--version"]),
        "registry": version(["docker-registry", "--version"]),
    }


def fmt(x, unit=""):
    return "–" if x is None else f"{x:.2f}{unit}"


def report(results, m):
    lines = [
        MARK_BEGIN,
        "## Wharf against buildah and skopeo (bench/run.sh)",
        "",
        f"{m['date']}; {m['cpu']}, {m['ram']} RAM, kernel {m['kernel']}; "
        f"wharf {m['wharf']}; {m['buildah']} (`--isolation chroot`, {STORAGE_DRIVER} storage); "
        f"{m['skopeo']}; {m['registry']} on loopback. "
        f"{RUNS} runs per contender, wharf and its peer alternating; medians; "
        "ratio = wharf ÷ peer (lower is better); peak RSS is the largest process of the command "
        "(`/usr/bin/time -v`)."
        + (" **Quick mode (tiny fixtures): not representative.**" if QUICK else ""),
        "",
        "| case | wharf s | peer | peer s | wharf ÷ peer | target | met | wharf peak RSS MiB | peer peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rss_all = []
    for r in results:
        num = f"{r.number}{r.sub}"
        if r.failed:
            lines.append(f"| {num}. {r.title} | **FAILED TO RUN** | {r.peer} | – | – | ≤ {r.target} | – | – | – |")
            continue
        wm, pm = median(r.wharf), median(r.peer_samples)
        ratio = wm / pm if pm else None
        met = "yes" if ratio is not None and ratio <= r.target else "**no**"
        rss_all.extend(r.wharf)
        lines.append(
            f"| {num}. {r.title} | {fmt(wm)} | {r.peer} | {fmt(pm)} | {fmt(ratio)} | ≤ {r.target} | {met} "
            f"| {fmt(peak(r.wharf))} | {fmt(peak(r.peer_samples))} |"
        )
        if r.number == 5 and r.downloaded is not None:
            ok = "yes" if r.downloaded == 0 else "**no**"
            lines.append(
                f"| 5. base-layer bytes downloaded by the build (registry access log) | {r.downloaded} "
                f"| of {r.base_bytes} in the base | – | – | 0 | {ok} | – | – |"
            )
    if rss_all:
        top = max(s.rss_kib for s in rss_all) / 1024
        lines.append(
            f"| RSS. wharf peak RSS, every case | {top:.1f} MiB | – | – | – | ≤ 150 MiB | "
            f"{'yes' if top <= 150 else '**no**'} | {top:.1f} | – |"
        )
    lines += ["", "Every run (seconds), wharf / peer:", ""]
    for r in results:
        num = f"{r.number}{r.sub}"
        if r.failed:
            why = r.failed.strip().splitlines()
            first = next((line for line in why if "error" in line.lower()), why[0])[:300]
            lines.append(f"- {num}: FAILED TO RUN — {first}")
            continue
        ws = ", ".join(f"{s.secs:.2f}" for s in r.wharf)
        ps = ", ".join(f"{s.secs:.2f}" for s in r.peer_samples)
        extra = f" ({'; '.join(r.notes)})" if r.notes else ""
        lines.append(f"- {num}: wharf {ws} / peer {ps}{extra}")
    lines += ["", f"Fixtures: {FIXTURE_NOTE}", "", MARK_END]
    return "\n".join(lines) + "\n"


FIXTURE_NOTE = (
    "the busybox base is `/bin/busybox` of Debian's busybox-static with its applet links, "
    "made into an OCI image with umoci and pushed with skopeo; the multi-stage context is "
    "generated C-like sources ({src_files} files, {src_mib} MiB); the COPY tree is "
    "`{copy_tree}` (copies of a `debootstrap --variant=minbase bookworm` root); the Windows "
    "base is `bench/make_windows_base.py` ({win_files} files, {win_mib} MiB of file data, "
    "two layers, `UtilityVM/` hardlinks, PAX security descriptors, Docker manifest list "
    "with `os.version` {win_version}) and its COPY is `{win_app}`; the push/pull image is "
    "`bench/make_linux_image.py` (4 gzip layers of {big_mib} MiB in total). Every wharf "
    "build starts from an empty store and every buildah build from empty `--root`/`--runroot` "
    "directories, except cases 2 and 3, which reuse one warmed store / `--layers` storage each; "
    "{disk}."
)


def write_report(text):
    out = os.environ.get("WHARF_BENCH_OUT")
    full = not QUICK and sorted(CASES) == list(range(1, 10)) and RUNS >= 3
    target = Path(out) if out else (REPO / "BENCHMARKS.md" if full else WORK / "results.md")
    if target.name == "BENCHMARKS.md" and target.exists():
        old = target.read_text()
        if MARK_BEGIN in old and MARK_END in old:
            head, rest = old.split(MARK_BEGIN, 1)
            tail = rest.split(MARK_END, 1)[1]
            new = head + text.rstrip("\n") + tail
        else:
            new = old.rstrip("\n") + "\n\n" + text
        target.write_text(new)
    else:
        target.write_text(text)
    log(f"results written to {target}")


def mount_disk():
    """Gives the run a place for stores, registries and contexts.

    Every case starts its contenders from empty stores, so a harness that
    deletes the last run's store before the next run measures its own
    cleanup: on an ext4 without a journal (the root file system of some CI
    and VM images, this project's machines among them) the inode allocator
    passes over every inode freed in the last minute (several, while its
    table block is dirty), reading each one it passes (`recently_deleted`
    in fs/ext4/ialloc.c), so files created right after a deletion cost time
    in proportion to the files deleted. By default ("keep") nothing is
    deleted while cases run: a run's directories are renamed aside and
    removed after the last case (then synced), the next run starts a
    minute after that at the earliest, and a contender pays only for what
    it deletes itself. "loop" gives the run a fresh ext4 with a journal on a
    loop device (direct I/O, so blobs are not cached twice), which has no
    such check but writes more slowly than the disk below it; "direct"
    deletes between runs, as earlier versions of this harness did."""
    global DISK_NOTE
    unmount_disk()
    image = WORK / "disk.img"
    if DISK_MODE == "loop":
        try:
            image.unlink(missing_ok=True)
            with open(image, "wb") as f:
                f.truncate(int(os.environ.get("WHARF_BENCH_DISK_GIB", "64")) * 2**30)
            sh(["mkfs.ext4", "-q", "-F", image])
            DISK.mkdir(parents=True, exist_ok=True)
            dev = sh(["losetup", "--direct-io=on", "--find", "--show", image]).strip()
            sh(["mount", dev, DISK])
            DISK_NOTE = ("stores, registries and contexts on a fresh ext4 (mkfs.ext4 defaults, "
                         "journal on) on a loop device with direct I/O")
            return
        except (CaseFailed, OSError) as e:
            log(f"no loop file system ({e}); using {DISK} on {WORK}'s own file system")
            image.unlink(missing_ok=True)
    leftovers = DISK.exists()
    fresh(DISK)
    settle(leftovers)
    where = f"stores, registries and contexts in `{DISK}` on the machine's own file system"
    if DISK_MODE == "keep":
        DISK_NOTE = (f"{where}; nothing is deleted while cases run (a run's directories are "
                     "moved aside and deleted after the last case)")
    else:
        DISK_NOTE = f"{where}; each run's directories deleted before the next run"


def unmount_disk():
    """Unmounts the run's file system (buildah's leftover mounts first) and
    removes it, or what the run left in WORK/disk without one."""
    mounts = [
        line.split()[1]
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if line.split()[1] == str(DISK) or line.split()[1].startswith(str(DISK) + "/")
    ]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.call(["umount", "-l", m], stderr=subprocess.DEVNULL)
    image = WORK / "disk.img"
    if image.exists():
        attached = subprocess.run(["losetup", "--associated", image], capture_output=True, text=True)
        for line in attached.stdout.splitlines():
            subprocess.call(["losetup", "--detach", line.split(":")[0]], stderr=subprocess.DEVNULL)
        image.unlink()
    if DISK.exists():
        rmtree(DISK)
        os.sync()
        CLEANED.write_text(str(time.time()))


def settle(deleted_now):
    """Waits until the last deletions of this harness (the previous run's
    cleanup, or leftovers deleted just now) are no longer "recent" to the
    inode allocator: synced, so their inode table blocks are clean, and a
    minute old (RECENTCY_MIN in fs/ext4/ialloc.c)."""
    os.sync()
    last = time.time() if deleted_now else 0.0
    try:
        last = max(last, float(CLEANED.read_text()))
    except (OSError, ValueError):
        pass
    wait = last + 65 - time.time()
    if wait > 0:
        log(f"waiting {wait:.0f} s for the last deletions to age (see mount_disk)")
        time.sleep(wait)


def main():
    global FIXTURE_NOTE
    for tool in ["buildah", "skopeo", "umoci", "/usr/bin/docker-registry", "/usr/bin/time", WHARF]:
        if not shutil.which(tool):
            sys.exit(f"bench.py: {tool} is missing; run bench/run.sh, which installs it")
    WORK.mkdir(parents=True, exist_ok=True)
    mount_disk()
    FIXTURE_NOTE = FIXTURE_NOTE.format(win_version=WIN_VERSION, disk=DISK_NOTE,
                                       **{k: size(k) for k in SIZES})
    m = machine()
    results = []
    reg = None
    try:
        reg = Registry(DISK / "registry")
        ctx = None
        if {1, 2, 3, 7, 8} & set(CASES):
            try:
                push_layout(busybox_layout(), "1", reg, "bench/busybox:1")
                ctx = multistage_context(reg)
            except CaseFailed as e:
                for n in sorted({1, 2, 3, 7, 8} & set(CASES)):
                    r = Result(n, *TITLES[n])
                    r.failed = f"fixture: {e}"
                    results.append(r)
        plan = [
            (1, lambda: case_cold(reg, ctx)),
            (2, lambda: case_warm(reg, ctx, 2)),
            (3, lambda: case_warm(reg, ctx, 3)),
            (4, case_copy_tree),
            (5, lambda: case_windows(reg)),
            (6, lambda: case_push_pull(reg)),
            (7, lambda: case_cache_from(reg, ctx)),
            (8, lambda: case_parallel(reg)),
            (9, lambda: case_windows_versions(reg)),
        ]
        for n, run in plan:
            if n not in CASES or (n in (1, 2, 3, 7, 8) and ctx is None):
                continue
            log(f"case {n}: {TITLES[n][0]}")
            try:
                out = run()
                results.extend(out if isinstance(out, list) else [out])
            except CaseFailed as e:
                log(f"case {n} FAILED TO RUN: {e}")
                r = Result(n, *TITLES[n])
                r.failed = str(e)
                results.append(r)
    finally:
        if reg:
            reg.stop()
        unmount_disk()
    results.sort(key=lambda r: (r.number, r.sub))
    text = report(results, m)
    print(text)
    write_report(text)
    failed = [f"{r.number}{r.sub}" for r in results if r.failed]
    if failed:
        log(f"FAILED TO RUN: case(s) {', '.join(failed)}; logs in {LOGS}")
        sys.exit(1)


if __name__ == "__main__":
    main()
