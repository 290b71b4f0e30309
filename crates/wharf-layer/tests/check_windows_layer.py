#!/usr/bin/env python3
"""Independent checker for Windows layer tars (docs/windows-layer-format.md).

Reads a layer with Python's tarfile module (a tar implementation independent
of the Rust code that wrote it) and checks the Windows importer's rules entry
by entry. Usage: check_windows_layer.py LAYER [--base-layer]
Exit status 0 when every rule holds; otherwise each violation is printed.
"""
import base64
import gzip
import re
import struct
import sys
import tarfile

FORBIDDEN = set('<>:"\\|?*')
RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
CREATION = re.compile(r"^\d+\.\d{9}$")


def open_layer(path):
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return tarfile.open(fileobj=gzip.open(path, "rb"), mode="r|")
    if head == b"\x28\xb5\x2f\xfd":
        import subprocess
        data = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
        import io
        return tarfile.open(fileobj=io.BytesIO(data), mode="r|")
    return tarfile.open(path, mode="r|")


def check_sd(raw):
    """A self-relative SECURITY_DESCRIPTOR with valid offsets."""
    if len(raw) < 20:
        return "descriptor shorter than its header"
    rev, _, control, o_owner, o_group, o_sacl, o_dacl = struct.unpack("<BBHIIII", raw[:20])
    if rev != 1:
        return f"revision {rev} != 1"
    if not control & 0x8000:
        return "not self-relative"
    for name, off in (("owner", o_owner), ("group", o_group)):
        if off == 0 or off + 8 > len(raw):
            return f"{name} offset {off} invalid"
        count = raw[off + 1]
        if raw[off] != 1 or off + 8 + 4 * count > len(raw):
            return f"{name} SID malformed"
    if control & 0x4:
        if o_dacl == 0 or o_dacl + 8 > len(raw):
            return "DACL present but offset invalid"
        size = struct.unpack("<H", raw[o_dacl + 2:o_dacl + 4])[0]
        if o_dacl + size > len(raw):
            return "DACL overruns the descriptor"
    return None


def name_problem(comp):
    if comp == "" or comp in (".", ".."):
        return "empty, '.' or '..' component"
    if any(c in FORBIDDEN or ord(c) < 32 for c in comp):
        return "character NTFS cannot hold"
    if comp.endswith(".") or comp.endswith(" "):
        return "trailing dot or space"
    if comp.split(".")[0].rstrip(" ").upper() in RESERVED:
        return "reserved device name"
    return None


def check(path, base_layer=False):
    errors = []
    seen = {}
    dirs = set()
    files = set()
    stream_owner = None
    index = 0
    with open_layer(path) as tar:
        for m in tar:
            name = m.name
            where = f"entry {index} {name!r}"
            index += 1
            if index <= 2:
                if not (m.isdir() and name.rstrip("/") in ("Hives", "Files")):
                    errors.append(f"{where}: the first two entries must be the Hives and Files directories")
            clean = name.rstrip("/") if m.isdir() else name
            if name.startswith("/") or name.startswith("./") or "\\" in name or "//" in name:
                errors.append(f"{where}: name is not relative and clean")
            top = clean.split("/")[0]
            if top not in ("Files", "Hives", "UtilityVM"):
                errors.append(f"{where}: outside Files/, Hives/ and UtilityVM/")
            if top == "UtilityVM" and not base_layer:
                errors.append(f"{where}: UtilityVM only belongs in base layers")
            comps = clean.split("/")
            # An alternate data stream is "<file>:<stream>": a regular file entry
            # directly after its file or directory (or after another of its streams).
            stream_of = None
            if m.isfile() and top == "Files" and ":" in comps[-1]:
                leaf_base, _, stream = comps[-1].partition(":")
                stream_of = "/".join(comps[:-1] + [leaf_base]).lower()
                if stream_of != stream_owner:
                    errors.append(f"{where}: component {comps[-1]!r}: ':' is a character NTFS cannot hold, "
                                  "except in an alternate data stream directly after its file")
                p = name_problem(stream)
                if p:
                    errors.append(f"{where}: stream name {stream!r}: {p}")
                comps = comps[:-1] + [leaf_base]
            for c in comps[1:]:
                if c.startswith(".wh."):
                    continue
                p = name_problem(c)
                if p:
                    errors.append(f"{where}: component {c!r}: {p}")
            parent = "/".join(comps[:-1])
            if parent and parent.lower() not in dirs:
                errors.append(f"{where}: parent {parent!r} not declared earlier as a directory")
            key = clean.lower()
            if key in seen:
                errors.append(f"{where}: duplicate of entry {seen[key]} (case-insensitive)")
            seen[key] = index - 1
            pax = m.pax_headers
            attr = pax.get("MSWINDOWS.fileattr")
            if attr is None or not attr.isdigit():
                errors.append(f"{where}: missing or non-decimal MSWINDOWS.fileattr")
                attr = "0"
            attr = int(attr)
            sd = pax.get("MSWINDOWS.rawsd")
            if sd is None:
                errors.append(f"{where}: missing MSWINDOWS.rawsd")
            else:
                try:
                    raw = base64.b64decode(sd, validate=True)
                    if base64.b64encode(raw).decode() != sd:
                        errors.append(f"{where}: rawsd is not standard padded base64")
                    p = check_sd(raw)
                    if p:
                        errors.append(f"{where}: rawsd {p}")
                except Exception as e:  # noqa: BLE001 - report any decoding failure
                    errors.append(f"{where}: rawsd not base64: {e}")
            ct = pax.get("LIBARCHIVE.creationtime")
            if ct is None or not CREATION.match(ct):
                errors.append(f"{where}: LIBARCHIVE.creationtime {ct!r} is not sec.nnnnnnnnn")
            leaf = comps[-1]
            if leaf == ".wh..wh..opq":
                errors.append(f"{where}: opaque whiteouts are not understood by the importer")
            elif leaf.startswith(".wh."):
                if base_layer:
                    errors.append(f"{where}: base layers may not contain whiteouts")
                if top != "Files":
                    errors.append(f"{where}: whiteouts belong under Files/")
                if not m.isfile() or m.size != 0:
                    errors.append(f"{where}: a whiteout must be an empty regular file")
            if stream_of is None:
                stream_owner = key if (m.isdir() or (m.isfile() and not leaf.startswith(".wh."))) else None
            if m.isdir():
                if not attr & 16:
                    errors.append(f"{where}: directory without FILE_ATTRIBUTE_DIRECTORY")
                dirs.add(key)
            elif m.issym():
                if not attr & 1024:
                    errors.append(f"{where}: symlink without FILE_ATTRIBUTE_REPARSE_POINT")
                if "/" in m.linkname:
                    errors.append(f"{where}: symlink target {m.linkname!r} is not a Windows path")
            elif m.islnk():
                if not m.linkname.startswith("Files/") and not m.linkname.startswith("UtilityVM/Files/"):
                    errors.append(f"{where}: hardlink target {m.linkname!r} lacks the Files/ prefix")
                elif m.linkname.lower() not in files:
                    errors.append(f"{where}: hardlink target {m.linkname!r} is not an earlier file")
            elif m.isfile():
                if attr & 16:
                    errors.append(f"{where}: file with FILE_ATTRIBUTE_DIRECTORY")
                if stream_of is None:
                    files.add(key)
            else:
                errors.append(f"{where}: entry type {m.type!r} has no meaning in a Windows layer")
    if index < 2:
        errors.append("layer has fewer than the two mandatory entries")
    return errors, index


def main():
    args = sys.argv[1:]
    base = "--base-layer" in args
    paths = [a for a in args if not a.startswith("--")]
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    errors, count = check(paths[0], base)
    for e in errors:
        print(e)
    if errors:
        print(f"{paths[0]}: {len(errors)} violation(s) in {count} entries")
        return 1
    print(f"{paths[0]}: {count} entries, all rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
