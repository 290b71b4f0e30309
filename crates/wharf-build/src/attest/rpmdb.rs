//! rpm's package database as rpm 4.16 and later keep it: an SQLite file
//! (`var/lib/rpm/rpmdb.sqlite`, or `usr/lib/sysimage/rpm/rpmdb.sqlite`)
//! whose `Packages` table holds one rpm header per installed package.
//!
//! Read by hand: the one maintained Rust SQLite library links C SQLite,
//! too much weight for listing one table of a file we only read. What is
//! needed is small and stable (SQLite's file format is frozen): the
//! 100-byte header, table b-tree pages (interior and leaf), overflow
//! chains and the record format; then rpm's header layout (index entries
//! over a data store). A write-ahead log that was not checkpointed is not
//! read (image builds checkpoint on exit). Older Berkeley DB and ndb
//! databases are not read. Every offset is bounds-checked: a hostile file
//! gives an error, never a panic.

use super::packages::Package;

const MAX_DEPTH: usize = 32;

fn be16(b: &[u8], at: usize) -> Result<usize, String> {
    b.get(at..at + 2)
        .map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))
        .ok_or_else(|| "truncated".to_string())
}

fn be32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| "truncated".to_string())
}

/// An SQLite varint at `at`: its value and length.
fn varint(b: &[u8], at: usize) -> Result<(u64, usize), String> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let byte = *b.get(at + i).ok_or("truncated varint")?;
        if i == 8 {
            return Ok(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    unreachable!("the loop returns by its ninth byte")
}

struct Db<'a> {
    data: &'a [u8],
    page_size: usize,
    usable: usize,
}

/// One column value of a record.
#[derive(Debug, PartialEq)]
enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
    Other,
}

impl<'a> Db<'a> {
    fn open(data: &'a [u8]) -> Result<Self, String> {
        if !data.starts_with(b"SQLite format 3\0") {
            return Err("not an SQLite database".into());
        }
        let page_size = match be16(data, 16)? {
            1 => 65536,
            n if n >= 512 && n.is_power_of_two() => n,
            n => return Err(format!("page size {n}")),
        };
        let reserved = usize::from(*data.get(20).ok_or("truncated")?);
        let usable = page_size
            .checked_sub(reserved)
            .filter(|u| *u >= 480)
            .ok_or("reserved space")?;
        Ok(Db {
            data,
            page_size,
            usable,
        })
    }

    fn page(&self, n: u32) -> Result<&'a [u8], String> {
        let start = (n as usize)
            .checked_sub(1)
            .ok_or("page 0")?
            .checked_mul(self.page_size)
            .ok_or("page number")?;
        self.data
            .get(start..start + self.page_size)
            .ok_or_else(|| format!("page {n} is past the end of the file"))
    }

    /// The payloads of every row of the table b-tree rooted at `root`;
    /// `visits` bounds the pages read (a hostile file may loop).
    fn rows(
        &self,
        root: u32,
        depth: usize,
        visits: &mut usize,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("b-tree too deep".into());
        }
        *visits = visits.checked_sub(1).ok_or("b-tree pages form a loop")?;
        let page = self.page(root)?;
        let h = if root == 1 { 100 } else { 0 };
        let cells = be16(page, h + 3)?;
        match *page.get(h).ok_or("truncated")? {
            0x0d => {
                for i in 0..cells {
                    let off = be16(page, h + 8 + 2 * i)?;
                    let (len, a) = varint(page, off)?;
                    let (_rowid, b) = varint(page, off + a)?;
                    out.push(self.payload(page, off + a + b, len as usize)?);
                }
            }
            0x05 => {
                for i in 0..cells {
                    let off = be16(page, h + 12 + 2 * i)?;
                    self.rows(be32(page, off)?, depth + 1, visits, out)?;
                }
                self.rows(be32(page, h + 8)?, depth + 1, visits, out)?;
            }
            t => return Err(format!("page {root} is not a table b-tree page (type {t})")),
        }
        Ok(())
    }

    /// A cell's payload of `len` bytes starting at `at`, overflow included.
    fn payload(&self, page: &[u8], at: usize, len: usize) -> Result<Vec<u8>, String> {
        let u = self.usable;
        let max_local = u - 35;
        let min_local = (u - 12) * 32 / 255 - 23;
        let local = if len <= max_local {
            len
        } else {
            let k = min_local + (len - min_local) % (u - 4);
            if k <= max_local {
                k
            } else {
                min_local
            }
        };
        let mut out = page.get(at..at + local).ok_or("truncated cell")?.to_vec();
        if local < len {
            let mut next = be32(page, at + local)?;
            let mut hops = 0;
            while out.len() < len {
                hops += 1;
                if next == 0 || hops > self.data.len() / self.page_size {
                    return Err("broken overflow chain".into());
                }
                let p = self.page(next)?;
                let take = (u - 4).min(len - out.len());
                out.extend_from_slice(p.get(4..4 + take).ok_or("truncated overflow page")?);
                next = be32(p, 0)?;
            }
        }
        Ok(out)
    }
}

/// The columns of a record.
fn record(payload: &[u8]) -> Result<Vec<Value<'_>>, String> {
    let (header_len, mut at) = varint(payload, 0)?;
    let header_len = header_len as usize;
    let mut types = Vec::new();
    while at < header_len {
        let (t, n) = varint(payload, at)?;
        types.push(t);
        at += n;
    }
    let mut body = header_len;
    let mut values = Vec::new();
    for t in types {
        let (size, value): (usize, fn(&[u8]) -> Value<'_>) = match t {
            0 | 8 | 9 => (0, |_| Value::Null),
            1..=4 => (t as usize, |_| Value::Other),
            5 => (6, |_| Value::Other),
            6 | 7 => (8, |_| Value::Other),
            n if n >= 12 && n % 2 == 0 => (((n - 12) / 2) as usize, |b| Value::Blob(b)),
            n if n >= 13 => (((n - 13) / 2) as usize, |b| Value::Text(b)),
            _ => return Err(format!("serial type {t}")),
        };
        let bytes = payload.get(body..body + size).ok_or("truncated record")?;
        values.push(match t {
            1..=6 => Value::Int(
                bytes
                    .iter()
                    .fold(if bytes[0] & 0x80 != 0 { -1i64 } else { 0 }, |v, b| {
                        (v << 8) | i64::from(*b)
                    }),
            ),
            8 => Value::Int(0),
            9 => Value::Int(1),
            _ => value(bytes),
        });
        body += size;
    }
    Ok(values)
}

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_VENDOR: u32 = 1011;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;

/// The package an rpm header (without its magic, as rpmdb stores it)
/// describes.
fn header_package(blob: &[u8]) -> Result<Option<Package>, String> {
    let count = be32(blob, 0)? as usize;
    let data_len = be32(blob, 4)? as usize;
    let store_at = count
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .ok_or("index size")?;
    let store = blob
        .get(store_at..store_at.checked_add(data_len).ok_or("data size")?)
        .ok_or("header larger than its blob")?;
    let find = |tag: u32| -> Option<(u32, usize)> {
        (0..count).find_map(|i| {
            let e = 8 + 16 * i;
            (be32(blob, e).ok()? == tag)
                .then(|| Some((be32(blob, e + 4).ok()?, be32(blob, e + 8).ok()? as usize)))
                .flatten()
        })
    };
    let string = |tag: u32| -> Option<String> {
        let (ty, off) = find(tag)?;
        // STRING, STRING_ARRAY (its first), I18NSTRING (the default).
        if ![6, 8, 9].contains(&ty) {
            return None;
        }
        let rest = store.get(off..)?;
        let end = rest.iter().position(|b| *b == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    let Some(name) = string(TAG_NAME) else {
        return Err("a header without a name".into());
    };
    // rpm keeps imported signing keys as pseudo-packages.
    if name == "gpg-pubkey" {
        return Ok(None);
    }
    let epoch = find(TAG_EPOCH)
        .filter(|(ty, _)| *ty == 4)
        .and_then(|(_, off)| be32(store, off).ok());
    let version = match (string(TAG_VERSION), string(TAG_RELEASE)) {
        (Some(v), Some(r)) => format!("{v}-{r}"),
        (Some(v), None) => v,
        _ => return Err(format!("{name}: a header without a version")),
    };
    Ok(Some(Package {
        kind: "rpm",
        name,
        version: match epoch {
            Some(e) if e > 0 => format!("{e}:{version}"),
            _ => version,
        },
        architecture: string(TAG_ARCH),
        supplier: string(TAG_VENDOR),
        license: string(TAG_LICENSE),
    }))
}

/// The packages an rpmdb.sqlite file lists.
pub fn rpm_packages(db: &[u8]) -> Result<Vec<Package>, String> {
    let db = Db::open(db)?;
    let pages = db.data.len() / db.page_size;
    let mut schema = Vec::new();
    db.rows(1, 0, &mut { pages }, &mut schema)?;
    let root = schema
        .iter()
        .filter_map(|p| record(p).ok())
        .find_map(|cols| match cols.as_slice() {
            [Value::Text(b"table"), Value::Text(b"Packages"), _, Value::Int(root), ..] => {
                u32::try_from(*root).ok()
            }
            _ => None,
        })
        .ok_or("no Packages table")?;
    let mut rows = Vec::new();
    db.rows(root, 0, &mut { pages }, &mut rows)?;
    let mut out = Vec::new();
    for row in rows {
        let cols = record(&row)?;
        if let Some(Value::Blob(blob)) = cols.get(1) {
            if let Some(p) = header_package(blob)? {
                out.push(p);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_testkit::rpm::{rpm_database, RpmPackage};

    /// A real rpmdb.sqlite made by rpm itself: one small package, one
    /// whose header spills over several pages (a long description), one
    /// with an epoch.
    fn real_database(dir: &std::path::Path) -> Vec<u8> {
        let long = "A long description line for overflow pages. ".repeat(400);
        let package = |name, version, epoch, description| RpmPackage {
            name,
            version,
            epoch,
            description,
        };
        let db = rpm_database(
            dir,
            &[
                package("hello-wharf", "1.2.3", None, "short"),
                package("big-header", "0.1", None, &long),
                package("with-epoch", "2.0", Some(3), "epoch"),
            ],
        );
        std::fs::read(db).unwrap()
    }

    #[test]
    fn packages_of_a_database_rpm_wrote() {
        let d = tempfile::tempdir().unwrap();
        let bytes = real_database(d.path());
        let mut got = rpm_packages(&bytes).unwrap();
        got.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<(&str, &str)> = got
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("big-header", "0.1-4"),
                ("hello-wharf", "1.2.3-4"),
                ("with-epoch", "3:2.0-4")
            ]
        );
        let hello = &got[1];
        assert_eq!(hello.kind, "rpm");
        assert_eq!(hello.architecture.as_deref(), Some("noarch"));
        assert_eq!(hello.license.as_deref(), Some("MIT and BSD"));
        assert_eq!(hello.supplier.as_deref(), Some("Wharf Tests"));
        assert_eq!(
            hello.purl("fedora"),
            "pkg:rpm/fedora/hello-wharf@1.2.3-4?arch=noarch"
        );
        assert_eq!(
            got[2].purl("fedora"),
            "pkg:rpm/fedora/with-epoch@2.0-4?arch=noarch&epoch=3"
        );
    }

    #[test]
    fn damaged_databases_are_errors_not_panics() {
        let d = tempfile::tempdir().unwrap();
        let bytes = real_database(d.path());
        assert!(rpm_packages(b"not sqlite").is_err());
        // Every truncation, and bytes flipped across the file.
        for cut in (0..bytes.len()).step_by(997) {
            let _ = rpm_packages(&bytes[..cut]);
        }
        let mut flipped = bytes.clone();
        for i in (100..flipped.len()).step_by(61) {
            flipped[i] ^= 0xa5;
            let _ = rpm_packages(&flipped);
        }
    }
}
