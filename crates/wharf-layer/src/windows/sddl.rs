//! SDDL → self-relative binary `SECURITY_DESCRIPTOR`, for the subset Windows
//! layers need: owner, group, and a DACL of access-allowed/denied ACEs with
//! inheritance flags, rights as two-letter codes or hex, and SIDs as well-known
//! aliases or `S-1-…` strings. Written by hand because no maintained crate
//! encodes security descriptors without calling into Windows
//! (`ConvertStringSecurityDescriptorToSecurityDescriptorW`), and layers are
//! written on Linux too.
//!
//! Layout (MS-DTYP 2.4.6): a 20-byte header, then owner SID, group SID and
//! DACL, in that order, which is what Windows itself produces.

use crate::error::{Error, Result};

/// `SE_SELF_RELATIVE`.
const SE_SELF_RELATIVE: u16 = 0x8000;
const SE_DACL_PRESENT: u16 = 0x0004;
const SE_DACL_AUTO_INHERITED: u16 = 0x0400;
const SE_DACL_PROTECTED: u16 = 0x1000;

/// Well-known SID aliases of SDDL, plus the container accounts.
const SID_ALIASES: &[(&str, &str)] = &[
    ("BA", "S-1-5-32-544"),
    ("BU", "S-1-5-32-545"),
    ("BG", "S-1-5-32-546"),
    ("SY", "S-1-5-18"),
    ("LS", "S-1-5-19"),
    ("NS", "S-1-5-20"),
    ("AU", "S-1-5-11"),
    ("WD", "S-1-1-0"),
    ("CO", "S-1-3-0"),
    ("CG", "S-1-3-1"),
    ("OW", "S-1-3-4"),
    ("IU", "S-1-5-4"),
    ("SU", "S-1-5-6"),
    ("NU", "S-1-5-2"),
    ("AN", "S-1-5-7"),
    ("AC", "S-1-15-2-1"),
    ("PS", "S-1-5-10"),
    ("RC", "S-1-5-12"),
];

/// SID of `ContainerAdministrator` in Windows containers.
pub const CONTAINER_ADMINISTRATOR_SID: &str = "S-1-5-93-2-1";
/// SID of `ContainerUser` in Windows containers.
pub const CONTAINER_USER_SID: &str = "S-1-5-93-2-2";

/// Access-right codes of SDDL.
const RIGHTS: &[(&str, u32)] = &[
    ("GA", 0x1000_0000),
    ("GR", 0x8000_0000),
    ("GW", 0x4000_0000),
    ("GX", 0x2000_0000),
    ("FA", 0x001F_01FF),
    ("FR", 0x0012_0089),
    ("FW", 0x0012_0116),
    ("FX", 0x0012_00A9),
    ("KA", 0x000F_003F),
    ("KR", 0x0002_0019),
    ("KW", 0x0002_0006),
    ("KX", 0x0002_0019),
    ("SD", 0x0001_0000),
    ("RC", 0x0002_0000),
    ("WD", 0x0004_0000),
    ("WO", 0x0008_0000),
    ("CC", 0x0000_0001),
    ("DC", 0x0000_0002),
    ("LC", 0x0000_0004),
    ("SW", 0x0000_0008),
    ("RP", 0x0000_0010),
    ("WP", 0x0000_0020),
    ("DT", 0x0000_0040),
    ("LO", 0x0000_0080),
    ("CR", 0x0000_0100),
];

/// ACE flag codes of SDDL.
const ACE_FLAGS: &[(&str, u8)] = &[
    ("OI", 0x01),
    ("CI", 0x02),
    ("NP", 0x04),
    ("IO", 0x08),
    ("ID", 0x10),
];

/// Resolves a user-facing account name or SID string to a SID string:
/// `ContainerAdministrator`, `ContainerUser`, an SDDL alias (`BA`) or `S-1-…`.
pub fn resolve_account(name: &str) -> Option<String> {
    if name.eq_ignore_ascii_case("ContainerAdministrator") {
        return Some(CONTAINER_ADMINISTRATOR_SID.to_string());
    }
    if name.eq_ignore_ascii_case("ContainerUser") {
        return Some(CONTAINER_USER_SID.to_string());
    }
    if let Some((_, sid)) = SID_ALIASES.iter().find(|(a, _)| *a == name) {
        return Some((*sid).to_string());
    }
    (name.starts_with("S-") || name.starts_with("s-")).then(|| name.to_ascii_uppercase())
}

/// Encodes a SID string (`S-1-5-32-544`) or SDDL alias (`BA`) as binary.
pub fn encode_sid(sid: &str) -> Option<Vec<u8>> {
    let text = SID_ALIASES
        .iter()
        .find(|(a, _)| *a == sid)
        .map_or(sid, |(_, s)| *s);
    let mut parts = text
        .strip_prefix("S-")
        .or_else(|| text.strip_prefix("s-"))?
        .split('-');
    let revision: u8 = parts.next()?.parse().ok()?;
    let authority: u64 = parts.next()?.parse().ok()?;
    if authority >= 1 << 48 {
        return None;
    }
    let subs: Vec<u32> = parts.map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if subs.is_empty() || subs.len() > 15 {
        return None;
    }
    let mut out = Vec::with_capacity(8 + 4 * subs.len());
    out.push(revision);
    out.push(u8::try_from(subs.len()).ok()?);
    out.extend_from_slice(&authority.to_be_bytes()[2..]);
    for s in subs {
        out.extend_from_slice(&s.to_le_bytes());
    }
    Some(out)
}

/// Encodes an SDDL string into a self-relative binary security descriptor.
pub fn sddl_to_binary(sddl: &str) -> Result<Vec<u8>> {
    let err = |reason: String| Error::Sddl {
        sddl: sddl.to_string(),
        reason,
    };
    let mut owner = None;
    let mut group = None;
    let mut dacl: Option<(u16, Vec<u8>, u16)> = None;
    let mut rest = sddl.trim();
    while !rest.is_empty() {
        let (tag, body) = rest
            .split_once(':')
            .ok_or_else(|| err(format!("expected O:, G: or D: at {rest:?}")))?;
        // A section runs until the next "X:" tag that is not inside parentheses.
        let end = section_end(body);
        let (value, next) = body.split_at(end);
        rest = next;
        match tag {
            "O" => {
                owner = Some(
                    encode_sid(value).ok_or_else(|| err(format!("unknown owner SID {value:?}")))?,
                )
            }
            "G" => {
                group = Some(
                    encode_sid(value).ok_or_else(|| err(format!("unknown group SID {value:?}")))?,
                )
            }
            "D" => dacl = Some(parse_acl(value).map_err(err)?),
            "S" => return Err(err("SACLs are not supported".into())),
            other => return Err(err(format!("unknown section {other:?}"))),
        }
    }
    let mut control = SE_SELF_RELATIVE;
    let mut body = Vec::new();
    let header_len = 20u32;
    let mut off_owner = 0u32;
    let mut off_group = 0u32;
    let mut off_dacl = 0u32;
    let pos = |body: &Vec<u8>| header_len + body.len() as u32;
    if let Some(o) = owner {
        off_owner = pos(&body);
        body.extend_from_slice(&o);
    }
    if let Some(g) = group {
        off_group = pos(&body);
        body.extend_from_slice(&g);
    }
    if let Some((flags, acl, _)) = dacl {
        control |= SE_DACL_PRESENT | flags;
        off_dacl = pos(&body);
        body.extend_from_slice(&acl);
    }
    let mut out = Vec::with_capacity(20 + body.len());
    out.push(1); // revision
    out.push(0); // sbz1
    out.extend_from_slice(&control.to_le_bytes());
    out.extend_from_slice(&off_owner.to_le_bytes());
    out.extend_from_slice(&off_group.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // no SACL
    out.extend_from_slice(&off_dacl.to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn section_end(body: &str) -> usize {
    let bytes = body.as_bytes();
    let mut depth = 0i32;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'O' | b'G' | b'D' | b'S' if depth == 0 && bytes.get(i + 1) == Some(&b':') => return i,
            _ => {}
        }
    }
    bytes.len()
}

/// Parses `P AI (ace)(ace)…` into (control flags, ACL bytes, ACE count).
fn parse_acl(text: &str) -> std::result::Result<(u16, Vec<u8>, u16), String> {
    let (flag_text, aces_text) = text.split_at(text.find('(').unwrap_or(text.len()));
    let mut control = 0u16;
    let mut f = flag_text;
    while !f.is_empty() {
        if let Some(r) = f.strip_prefix("AI") {
            control |= SE_DACL_AUTO_INHERITED;
            f = r;
        } else if let Some(r) = f.strip_prefix("AR") {
            f = r; // auto-inherit-required: no effect on a stored descriptor
        } else if let Some(r) = f.strip_prefix('P') {
            control |= SE_DACL_PROTECTED;
            f = r;
        } else {
            return Err(format!("unknown ACL flags {f:?}"));
        }
    }
    let mut aces = Vec::new();
    let mut count = 0u16;
    let mut rest = aces_text;
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('(')
            .and_then(|r| r.split_once(')'))
            .ok_or_else(|| format!("malformed ACE list at {rest:?}"))?;
        aces.extend_from_slice(&encode_ace(inner.0)?);
        count += 1;
        rest = inner.1;
    }
    let size = u16::try_from(8 + aces.len()).map_err(|_| "ACL larger than 64 KiB".to_string())?;
    let mut acl = Vec::with_capacity(usize::from(size));
    acl.push(2); // ACL_REVISION
    acl.push(0);
    acl.extend_from_slice(&size.to_le_bytes());
    acl.extend_from_slice(&count.to_le_bytes());
    acl.extend_from_slice(&0u16.to_le_bytes());
    acl.extend_from_slice(&aces);
    Ok((control, acl, count))
}

fn encode_ace(text: &str) -> std::result::Result<Vec<u8>, String> {
    let fields: Vec<&str> = text.split(';').collect();
    let [ty, flags, rights, object, inherit_object, sid] = fields[..] else {
        return Err(format!("ACE {text:?} must have six fields"));
    };
    if !object.is_empty() || !inherit_object.is_empty() {
        return Err(format!("object ACEs are not supported: {text:?}"));
    }
    let ace_type: u8 = match ty {
        "A" => 0,
        "D" => 1,
        other => {
            return Err(format!(
                "ACE type {other:?} is not supported (only A and D)"
            ))
        }
    };
    let mut ace_flags = 0u8;
    let mut f = flags;
    while !f.is_empty() {
        let (code, r) = f.split_at(f.len().min(2));
        let (_, bit) = ACE_FLAGS
            .iter()
            .find(|(c, _)| *c == code)
            .ok_or_else(|| format!("unknown ACE flag {code:?}"))?;
        ace_flags |= bit;
        f = r;
    }
    let mask = parse_rights(rights)?;
    let sid_bytes = encode_sid(sid).ok_or_else(|| format!("unknown SID {sid:?}"))?;
    let size = u16::try_from(8 + sid_bytes.len()).map_err(|_| "ACE too large".to_string())?;
    let mut out = Vec::with_capacity(usize::from(size));
    out.push(ace_type);
    out.push(ace_flags);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&mask.to_le_bytes());
    out.extend_from_slice(&sid_bytes);
    Ok(out)
}

fn parse_rights(text: &str) -> std::result::Result<u32, String> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).map_err(|_| format!("bad hex rights {text:?}"));
    }
    let mut mask = 0u32;
    let mut r = text;
    while !r.is_empty() {
        let (code, rest) = r.split_at(r.len().min(2));
        let (_, bits) = RIGHTS
            .iter()
            .find(|(c, _)| *c == code)
            .ok_or_else(|| format!("unknown right {code:?}"))?;
        mask |= bits;
        r = rest;
    }
    Ok(mask)
}

/// Replaces the owner of a self-relative security descriptor, keeping group and DACL.
/// Used for `--chown` in Windows stages.
pub fn with_owner(descriptor: &[u8], owner_sid: &str) -> Result<Vec<u8>> {
    let err = |reason: &str| Error::Sddl {
        sddl: owner_sid.to_string(),
        reason: reason.to_string(),
    };
    let owner = encode_sid(owner_sid).ok_or_else(|| err("not a SID or known account"))?;
    let group = sid_at(descriptor, 8).ok_or_else(|| err("descriptor has no valid group"))?;
    let dacl = acl_at(descriptor, 16);
    let control = u16::from_le_bytes([
        *descriptor
            .get(2)
            .ok_or_else(|| err("descriptor too short"))?,
        *descriptor
            .get(3)
            .ok_or_else(|| err("descriptor too short"))?,
    ]);
    let mut body = owner.clone();
    let off_group = 20 + body.len() as u32;
    body.extend_from_slice(group);
    let off_dacl = if let Some(acl) = dacl {
        let o = 20 + body.len() as u32;
        body.extend_from_slice(acl);
        o
    } else {
        0
    };
    let mut out = vec![1, 0];
    out.extend_from_slice(&control.to_le_bytes());
    out.extend_from_slice(&20u32.to_le_bytes());
    out.extend_from_slice(&off_group.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&off_dacl.to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn offset_at(sd: &[u8], field: usize) -> Option<usize> {
    let b = sd.get(field..field + 4)?;
    let off = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    (off != 0).then_some(off)
}

fn sid_at(sd: &[u8], field: usize) -> Option<&[u8]> {
    let off = offset_at(sd, field)?;
    let count = usize::from(*sd.get(off + 1)?);
    sd.get(off..off + 8 + 4 * count)
}

fn acl_at(sd: &[u8], field: usize) -> Option<&[u8]> {
    let off = offset_at(sd, field)?;
    let size = usize::from(u16::from_le_bytes([*sd.get(off + 2)?, *sd.get(off + 3)?]));
    sd.get(off..off + size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    // Vectors from docs/windows-layer-format.md ("Test vectors").
    const DIR_SDDL: &str = "O:BAG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)(A;CI;LC;;;BU)(A;CI;DC;;;BU)";
    const DIR_B64: &str = "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgCoAAcAAAAAAxgA/wEfAAECAAAAAAAFIAAAACACAAAAAxQA/wEfAAEBAAAAAAAFEgAAAAAAGAD/AR8AAQIAAAAAAAUgAAAAIAIAAAALFAAAAAAQAQEAAAAAAAMAAAAAAAMYAKkAEgABAgAAAAAABSAAAAAhAgAAAAIYAAQAAAABAgAAAAAABSAAAAAhAgAAAAIYAAIAAAABAgAAAAAABSAAAAAhAgAA";
    const FILE_SDDL: &str = "O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)(A;;0x1200a9;;;BU)";
    const FILE_B64: &str = "AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgBMAAMAAAAAABgA/wEfAAECAAAAAAAFIAAAACACAAAAABQA/wEfAAEBAAAAAAAFEgAAAAAAGACpABIAAQIAAAAAAAUgAAAAIQIAAA==";
    const OWNER_SDDL: &str = "O:BUG:BU";
    const OWNER_B64: &str =
        "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==";

    #[test]
    fn design_vectors_encode_exactly() {
        for (sddl, b64) in [
            (DIR_SDDL, DIR_B64),
            (FILE_SDDL, FILE_B64),
            (OWNER_SDDL, OWNER_B64),
        ] {
            let bin = sddl_to_binary(sddl).unwrap();
            assert_eq!(STANDARD.encode(&bin), b64, "{sddl}");
        }
    }

    #[test]
    fn container_accounts_resolve() {
        assert_eq!(resolve_account("ContainerUser").unwrap(), "S-1-5-93-2-2");
        assert_eq!(
            resolve_account("containeradministrator").unwrap(),
            "S-1-5-93-2-1"
        );
        assert_eq!(resolve_account("BA").unwrap(), "S-1-5-32-544");
        assert!(resolve_account("bob").is_none());
        let sid = encode_sid(CONTAINER_USER_SID).unwrap();
        assert_eq!(
            sid,
            [1, 3, 0, 0, 0, 0, 0, 5, 93, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]
        );
    }

    #[test]
    fn with_owner_replaces_only_the_owner() {
        let file = sddl_to_binary(FILE_SDDL).unwrap();
        let chowned = with_owner(&file, CONTAINER_USER_SID).unwrap();
        let expected = sddl_to_binary(&FILE_SDDL.replacen("O:BA", "O:S-1-5-93-2-2", 1)).unwrap();
        assert_eq!(chowned, expected);
    }

    #[test]
    fn protected_dacl_sets_control_bit() {
        let bin = sddl_to_binary("O:SYG:SYD:P(A;;FA;;;SY)").unwrap();
        let control = u16::from_le_bytes([bin[2], bin[3]]);
        assert_eq!(
            control,
            SE_SELF_RELATIVE | SE_DACL_PRESENT | SE_DACL_PROTECTED
        );
    }

    #[test]
    fn rejects_unsupported_or_malformed() {
        for bad in [
            "O:XXG:SY",
            "O:BAG:SYS:(AU;SA;FA;;;WD)",
            "O:BAD:(OA;;FA;guid;;BA)",
            "O:BAD:(A;;ZZ;;;BA)",
            "O:BAD:(A;;FA;;;BA",
            "garbage",
            "O:S-1-x",
        ] {
            assert!(sddl_to_binary(bad).is_err(), "{bad}");
        }
    }
}
