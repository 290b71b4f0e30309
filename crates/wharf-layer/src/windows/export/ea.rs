//! Extended attributes as a `BACKUP_EA_DATA` stream carries them: a chain of
//! `FILE_FULL_EA_INFORMATION` records (next-entry offset u32, flags u8, name
//! length u8, value length u16, the name and a NUL, the value; every record,
//! the last included, padded to 4 bytes, as go-winio's
//! `EncodeExtendedAttributes` writes them; the last has offset 0). Layout from the Win32 documentation and
//! go-winio's `ea.go`. In the layer tar each EA becomes a
//! `MSWINDOWS.xattr.<name>` PAX record; the flags are dropped, as go-winio's
//! `backuptar` drops them.

/// Decodes an EA stream into (name, value) pairs.
pub fn decode(mut buf: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        if buf.len() < 8 {
            return Err(format!("EA record header truncated ({} bytes)", buf.len()));
        }
        let next = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let name_len = usize::from(buf[5]);
        let value_len = usize::from(u16::from_le_bytes([buf[6], buf[7]]));
        let value_start = 8 + name_len + 1;
        if value_start + value_len > buf.len() {
            return Err("EA record runs past the end of the stream".into());
        }
        let name = std::str::from_utf8(&buf[8..8 + name_len])
            .map_err(|_| "EA name is not ASCII/UTF-8".to_string())?;
        if name.is_empty() || name.contains(['=', '\0', '\n']) {
            return Err(format!("EA name {name:?} cannot be a PAX record key"));
        }
        out.push((
            name.to_string(),
            buf[value_start..value_start + value_len].to_vec(),
        ));
        if next == 0 {
            break;
        }
        if next < value_start + value_len || next > buf.len() {
            return Err(format!("EA next-entry offset {next} is out of bounds"));
        }
        buf = &buf[next..];
    }
    Ok(out)
}

/// Encodes (name, value) pairs into an EA stream.
pub fn encode(eas: &[(String, Vec<u8>)]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (i, (name, value)) in eas.iter().enumerate() {
        let name_len =
            u8::try_from(name.len()).map_err(|_| format!("EA name {name:?} is too long"))?;
        let value_len = u16::try_from(value.len())
            .map_err(|_| format!("EA {name:?} value of {} bytes is too long", value.len()))?;
        let entry = 8 + name.len() + 1 + value.len();
        let padded = (entry + 3) & !3;
        let last = i + 1 == eas.len();
        let next = if last { 0 } else { padded as u32 };
        out.extend_from_slice(&next.to_le_bytes());
        out.push(0);
        out.push(name_len);
        out.extend_from_slice(&value_len.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.resize(out.len() + padded - entry, 0);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let eas = vec![
            ("$LXUID".to_string(), vec![0, 0, 0, 0]),
            ("USER.X".to_string(), b"value".to_vec()),
        ];
        let b = encode(&eas).unwrap();
        // First record: 8 + 6 + 1 + 4 = 19, padded to 20.
        assert_eq!(&b[0..4], &20u32.to_le_bytes());
        assert_eq!(b[5], 6);
        assert_eq!(decode(&b).unwrap(), eas);
        assert_eq!(decode(&[]).unwrap(), vec![]);
    }

    /// go-winio's `testEasEncoded`: two records, the last one padded too
    /// (36 bytes); the same stream without the last padding and one cut
    /// inside the second header.
    #[test]
    fn go_winio_vector() {
        let eas = vec![
            ("foo".to_string(), b"bar".to_vec()),
            ("fizz".to_string(), b"buzz".to_vec()),
        ];
        let expected: [u8; 36] = [
            16, 0, 0, 0, 0, 3, 3, 0, b'f', b'o', b'o', 0, b'b', b'a', b'r', 0, //
            0, 0, 0, 0, 0, 4, 4, 0, b'f', b'i', b'z', b'z', 0, b'b', b'u', b'z', b'z', 0, 0, 0,
        ];
        assert_eq!(encode(&eas).unwrap(), expected);
        assert_eq!(decode(&expected).unwrap(), eas);
        assert_eq!(decode(&expected[..33]).unwrap(), eas, "not padded");
        assert!(decode(&expected[..20]).is_err(), "truncated");
    }

    #[test]
    fn hostile_streams_are_refused() {
        let mut b = encode(&[("A".to_string(), b"v".to_vec())]).unwrap();
        b[6] = 200; // value length past the end
        assert!(decode(&b).is_err());
        assert!(decode(&[1, 2, 3]).is_err());
        let mut loops = encode(&[("A".into(), vec![]), ("B".into(), vec![])]).unwrap();
        loops[0] = 0; // next offset 0 ends the chain early: only A is read
        assert_eq!(decode(&loops).unwrap().len(), 1);
        loops[0] = 4; // next offset inside the record itself
        assert!(decode(&loops).is_err());
        let bad_name = encode(&[("a=b".into(), vec![])]).unwrap();
        assert!(decode(&bad_name).is_err());
    }
}
