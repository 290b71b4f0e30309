//! Per-entry Windows metadata and its PAX records: `MSWINDOWS.fileattr`,
//! `MSWINDOWS.rawsd`, `LIBARCHIVE.creationtime`, `MSWINDOWS.mountpoint` and
//! `MSWINDOWS.xattr.<name>` (extended attributes, as go-winio's `backuptar` writes them).

use super::sddl::sddl_to_binary;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::sync::OnceLock;

/// `FILE_ATTRIBUTE_DIRECTORY`.
pub const FILE_ATTRIBUTE_DIRECTORY: u32 = 16;
/// `FILE_ATTRIBUTE_ARCHIVE`, the attribute of an ordinary file.
pub const FILE_ATTRIBUTE_ARCHIVE: u32 = 32;
/// `FILE_ATTRIBUTE_REPARSE_POINT`, added to symlinks and junctions.
pub const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 1024;

/// PAX key of the Win32 attributes.
pub const PAX_FILEATTR: &str = "MSWINDOWS.fileattr";
/// PAX key of the base64 binary security descriptor.
pub const PAX_RAWSD: &str = "MSWINDOWS.rawsd";
/// PAX key of the legacy SDDL security descriptor.
pub const PAX_SD: &str = "MSWINDOWS.sd";
/// PAX key of the creation time.
pub const PAX_CREATIONTIME: &str = "LIBARCHIVE.creationtime";
/// PAX key of the last write time with its fraction (the standard PAX
/// `mtime`, which Go's tar writer adds for go-winio's `backuptar` when the
/// time has one).
pub const PAX_MTIME: &str = "mtime";
/// PAX key marking a junction.
pub const PAX_MOUNTPOINT: &str = "MSWINDOWS.mountpoint";
/// PAX key prefix of an extended attribute; the value is the base64 of the EA value.
pub const PAX_XATTR_PREFIX: &str = "MSWINDOWS.xattr.";

/// Default security descriptor of directories created by Wharf (docs/windows-layer-format.md).
pub const DEFAULT_DIR_SDDL: &str = "O:BAG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)(A;CI;LC;;;BU)(A;CI;DC;;;BU)";
/// Default security descriptor of files created by Wharf (docs/windows-layer-format.md).
pub const DEFAULT_FILE_SDDL: &str = "O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)(A;;0x1200a9;;;BU)";

/// A point in time with nanoseconds, seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: u64,
    /// Nanoseconds, below 1e9.
    pub nanos: u32,
}

impl Timestamp {
    /// Whole seconds only.
    pub fn from_secs(secs: u64) -> Self {
        Timestamp { secs, nanos: 0 }
    }

    /// `sec.nnnnnnnnn`, nine zero-padded digits, as `LIBARCHIVE.creationtime` needs.
    pub fn to_pax(self) -> String {
        format!("{}.{:09}", self.secs, self.nanos.min(999_999_999))
    }

    /// The same time at Windows' resolution (`FILETIME`: 100 ns), the
    /// fraction rounded down.
    pub fn at_filetime_resolution(self) -> Self {
        Timestamp {
            secs: self.secs,
            nanos: self.nanos - self.nanos % 100,
        }
    }

    /// Parses a PAX time (`123`, `123.5`, `123.000000005`); the fraction is a
    /// decimal fraction of a second, so `.5` is half a second.
    pub fn parse_pax(text: &str) -> Option<Self> {
        let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
        let secs = secs.parse().ok()?;
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut digits: String = frac.chars().take(9).collect();
        while digits.len() < 9 {
            digits.push('0');
        }
        Some(Timestamp {
            secs,
            nanos: digits.parse().ok()?,
        })
    }
}

/// Windows metadata of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WinMeta {
    /// Win32 file attributes.
    pub attributes: u32,
    /// Self-relative binary security descriptor.
    pub security_descriptor: Vec<u8>,
    /// Creation time.
    pub creation_time: Timestamp,
    /// Last write time, whole seconds (the ustar header's).
    pub mtime: u64,
    /// The last write time's fraction of a second, in nanoseconds (100 ns
    /// steps, Windows' resolution); when not zero it is written as a PAX
    /// `mtime` record, as go-winio's layers carry it.
    pub mtime_nanos: u32,
    /// The entry is a junction (`MSWINDOWS.mountpoint=1`).
    pub mountpoint: bool,
    /// Windows extended attributes (name, value), in order. Their flags are not
    /// kept: the layer format has no place for them.
    pub extended_attributes: Vec<(String, Vec<u8>)>,
}

fn default_sd(dir: bool) -> &'static [u8] {
    static DIR: OnceLock<Vec<u8>> = OnceLock::new();
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    let (cell, sddl) = if dir {
        (&DIR, DEFAULT_DIR_SDDL)
    } else {
        (&FILE, DEFAULT_FILE_SDDL)
    };
    // The defaults are constants of this module, tested against the vectors of
    // docs/windows-layer-format.md.
    cell.get_or_init(|| sddl_to_binary(sddl).unwrap_or_default())
}

impl WinMeta {
    /// Default metadata of a directory created at `time`.
    pub fn default_dir(time: Timestamp) -> Self {
        WinMeta {
            attributes: FILE_ATTRIBUTE_DIRECTORY,
            security_descriptor: default_sd(true).to_vec(),
            creation_time: time,
            mtime: time.secs,
            mtime_nanos: 0,
            mountpoint: false,
            extended_attributes: Vec::new(),
        }
    }

    /// Default metadata of a file created at `time`.
    pub fn default_file(time: Timestamp) -> Self {
        WinMeta {
            attributes: FILE_ATTRIBUTE_ARCHIVE,
            security_descriptor: default_sd(false).to_vec(),
            creation_time: time,
            mtime: time.secs,
            mtime_nanos: 0,
            mountpoint: false,
            extended_attributes: Vec::new(),
        }
    }

    /// The PAX records describing this metadata, in a fixed order.
    pub fn pax_records(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![
            (
                PAX_FILEATTR.to_string(),
                self.attributes.to_string().into_bytes(),
            ),
            (
                PAX_RAWSD.to_string(),
                STANDARD.encode(&self.security_descriptor).into_bytes(),
            ),
            (
                PAX_CREATIONTIME.to_string(),
                self.creation_time.to_pax().into_bytes(),
            ),
        ];
        if self.mtime_nanos != 0 {
            let fraction = format!("{:09}", self.mtime_nanos.min(999_999_999));
            let mtime = format!("{}.{}", self.mtime, fraction.trim_end_matches('0'));
            out.push((PAX_MTIME.to_string(), mtime.into_bytes()));
        }
        if self.mountpoint {
            out.push((PAX_MOUNTPOINT.to_string(), b"1".to_vec()));
        }
        for (name, value) in &self.extended_attributes {
            out.push((
                format!("{PAX_XATTR_PREFIX}{name}"),
                STANDARD.encode(value).into_bytes(),
            ));
        }
        out
    }

    /// Reads metadata back from an entry's PAX records; missing records get
    /// the defaults for a directory or file. `MSWINDOWS.sd` (SDDL) is honoured
    /// when `rawsd` is absent.
    pub fn from_pax(records: &[(String, Vec<u8>)], is_dir: bool, mtime: u64) -> Self {
        let mut meta = if is_dir {
            WinMeta::default_dir(Timestamp::from_secs(mtime))
        } else {
            WinMeta::default_file(Timestamp::from_secs(mtime))
        };
        meta.mtime = mtime;
        let text = |v: &Vec<u8>| String::from_utf8_lossy(v).trim().to_string();
        for (k, v) in records {
            match k.as_str() {
                PAX_FILEATTR => {
                    if let Ok(a) = text(v).parse() {
                        meta.attributes = a;
                    }
                }
                PAX_RAWSD => {
                    if let Ok(sd) = STANDARD.decode(text(v)) {
                        meta.security_descriptor = sd;
                    }
                }
                PAX_SD if !records.iter().any(|(k, _)| k == PAX_RAWSD) => {
                    if let Ok(sd) = sddl_to_binary(&text(v)) {
                        meta.security_descriptor = sd;
                    }
                }
                PAX_CREATIONTIME => {
                    if let Some(t) = Timestamp::parse_pax(&text(v)) {
                        meta.creation_time = t;
                    }
                }
                PAX_MTIME => {
                    if let Some(t) = Timestamp::parse_pax(&text(v)) {
                        meta.mtime = t.secs;
                        meta.mtime_nanos = t.nanos;
                    }
                }
                PAX_MOUNTPOINT => meta.mountpoint = text(v) == "1",
                _ => {
                    if let Some(name) = k.strip_prefix(PAX_XATTR_PREFIX) {
                        if let Ok(value) = STANDARD.decode(text(v)) {
                            meta.extended_attributes.push((name.to_string(), value));
                        }
                    }
                }
            }
        }
        meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_time_has_nine_padded_digits() {
        let t = Timestamp {
            secs: 1_700_000_000,
            nanos: 5_000_000,
        };
        assert_eq!(t.to_pax(), "1700000000.005000000");
        assert_eq!(Timestamp::from_secs(3).to_pax(), "3.000000000");
        assert_eq!(Timestamp::parse_pax("1700000000.005000000"), Some(t));
        // An unpadded writer's ".5" is half a second, not 5 ms.
        assert_eq!(Timestamp::parse_pax("1.5").unwrap().nanos, 500_000_000);
        assert!(Timestamp::parse_pax("x.1").is_none());
    }

    #[test]
    fn pax_records_round_trip() {
        let mut m = WinMeta::default_file(Timestamp { secs: 10, nanos: 7 });
        m.attributes |= FILE_ATTRIBUTE_REPARSE_POINT;
        m.mountpoint = true;
        m.extended_attributes = vec![("$KERNEL.PURGE.X".into(), vec![0, 1, 255])];
        let back = WinMeta::from_pax(&m.pax_records(), false, 10);
        assert_eq!(back, m);
    }

    #[test]
    fn sub_second_write_times_are_a_pax_mtime_record() {
        let mut m = WinMeta::default_file(Timestamp::from_secs(10));
        assert!(!m.pax_records().iter().any(|(k, _)| k == PAX_MTIME));
        m.mtime_nanos = 123_456_700;
        let records = m.pax_records();
        let (_, value) = records.iter().find(|(k, _)| k == PAX_MTIME).unwrap();
        // Go's form: trailing zeros of the fraction trimmed.
        assert_eq!(value, b"10.1234567");
        assert_eq!(WinMeta::from_pax(&records, false, 10), m);
        let t = Timestamp {
            secs: 1,
            nanos: 123_456_789,
        };
        assert_eq!(t.at_filetime_resolution().nanos, 123_456_700);
    }

    #[test]
    fn defaults_use_design_descriptors() {
        let d = WinMeta::default_dir(Timestamp::default());
        assert_eq!(
            d.security_descriptor,
            sddl_to_binary(DEFAULT_DIR_SDDL).unwrap()
        );
        assert_eq!(d.attributes, 16);
        assert_eq!(WinMeta::default_file(Timestamp::default()).attributes, 32);
    }
}
