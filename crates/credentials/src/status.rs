//! IETF Token Status List (draft-ietf-oauth-status-list): a byte array in which the status of
//! the token with index `idx` takes `bits` bits (1, 2, 4 or 8; Urbis issues 1 or 2) at bit
//! offset `(idx × bits) mod 8`, counted from the least significant bit, of byte
//! `idx × bits / 8`. Its JSON form is `{"bits": b, "lst": base64url(zlib(bytes))}` (zlib as in
//! RFC 1950). A token refers to its entry with `"status": {"status_list": {"idx": i, "uri":
//! "…"}}`.

use std::io::{Read as _, Write as _};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::CredError;
use crate::jose::{b64, unb64};

/// Status values (§7.1 of the draft).
pub const VALID: u8 = 0;
pub const INVALID: u8 = 1;
pub const SUSPENDED: u8 = 2;

/// Largest decompressed list accepted from outside (16 MiB: 134M one-bit entries).
pub const MAX_LIST_BYTES: usize = 16 << 20;

/// A status list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    bytes: Vec<u8>,
}

/// The JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListJson {
    pub bits: u8,
    pub lst: String,
}

fn check_bits(bits: u8) -> Result<(), CredError> {
    if matches!(bits, 1 | 2 | 4 | 8) {
        Ok(())
    } else {
        Err(CredError::Malformed(format!(
            "a status list has 1, 2, 4 or 8 bits per entry, not {bits}"
        )))
    }
}

impl StatusList {
    /// A list of `len` entries, all valid.
    pub fn new(bits: u8, len: u64) -> Result<StatusList, CredError> {
        check_bits(bits)?;
        let bytes = (len * u64::from(bits)).div_ceil(8);
        Ok(StatusList {
            bits,
            bytes: vec![0; bytes as usize],
        })
    }

    /// A list over raw bytes.
    pub fn from_bytes(bits: u8, bytes: Vec<u8>) -> Result<StatusList, CredError> {
        check_bits(bits)?;
        Ok(StatusList { bits, bytes })
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many entries it holds.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64 * 8 / u64::from(self.bits)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Where entry `idx` lives: byte and shift.
    fn place(bits: u8, idx: u64) -> (usize, u32) {
        let bit = idx * u64::from(bits);
        ((bit / 8) as usize, (bit % 8) as u32)
    }

    /// The status of entry `idx` (`None` past the end).
    pub fn get(&self, idx: u64) -> Option<u8> {
        let (byte, shift) = Self::place(self.bits, idx);
        let mask = ((1u16 << self.bits) - 1) as u8;
        self.bytes.get(byte).map(|b| (b >> shift) & mask)
    }

    /// Set entry `idx` to `status` (which must fit in `bits`).
    pub fn set(&mut self, idx: u64, status: u8) -> Result<(), CredError> {
        let mask = ((1u16 << self.bits) - 1) as u8;
        if status > mask {
            return Err(CredError::Malformed(format!(
                "status {status} does not fit in {} bits",
                self.bits
            )));
        }
        let (byte, shift) = Self::place(self.bits, idx);
        let b = self
            .bytes
            .get_mut(byte)
            .ok_or_else(|| CredError::Malformed(format!("index {idx} is past the list")))?;
        *b = (*b & !(mask << shift)) | (status << shift);
        Ok(())
    }

    /// The JSON form (`lst` compressed with zlib at the best level).
    pub fn to_json(&self) -> StatusListJson {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&self.bytes)
            .expect("compressing into a vector never fails");
        let compressed = z.finish().expect("compressing into a vector never fails");
        StatusListJson {
            bits: self.bits,
            lst: b64(&compressed),
        }
    }

    /// Read the JSON form (at most [`MAX_LIST_BYTES`] once decompressed).
    pub fn from_json(v: &Value) -> Result<StatusList, CredError> {
        let j: StatusListJson = serde_json::from_value(v.clone())
            .map_err(|e| CredError::Malformed(format!("status list: {e}")))?;
        check_bits(j.bits)?;
        let compressed = unb64(&j.lst)?;
        let mut bytes = Vec::new();
        flate2::read::ZlibDecoder::new(compressed.as_slice())
            .take(MAX_LIST_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| CredError::Malformed("status list lst is not zlib data".into()))?;
        if bytes.len() > MAX_LIST_BYTES {
            return Err(CredError::Malformed("status list too large".into()));
        }
        Ok(StatusList {
            bits: j.bits,
            bytes,
        })
    }
}

/// A token's reference to its status entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRef {
    pub idx: u64,
    pub uri: String,
}

impl StatusRef {
    /// The `status` claim value.
    pub fn to_claim(&self) -> Value {
        serde_json::json!({"status_list": {"idx": self.idx, "uri": self.uri}})
    }

    /// Read a `status` claim.
    pub fn from_claim(v: &Value) -> Result<StatusRef, CredError> {
        serde_json::from_value(v.get("status_list").cloned().unwrap_or(Value::Null))
            .map_err(|_| CredError::Malformed("status claim without status_list {idx, uri}".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drafts_example_lists() {
        // draft-ietf-oauth-status-list §4.1: 1 bit, 16 entries.
        let mut l = StatusList::new(1, 16).unwrap();
        for (i, s) in [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
            .iter()
            .enumerate()
        {
            l.set(i as u64, *s).unwrap();
        }
        assert_eq!(l.bytes(), &[0xB9, 0xA3]);
        let j = l.to_json();
        assert_eq!(j.lst, "eNrbuRgAAhcBXQ");
        // 2 bits, 12 entries.
        let mut l = StatusList::new(2, 12).unwrap();
        for (i, s) in [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3].iter().enumerate() {
            l.set(i as u64, *s).unwrap();
        }
        assert_eq!(l.bytes(), &[0xC9, 0x44, 0xF9]);
        assert_eq!(l.to_json().lst, "eNo76fITAAPfAgc");
        let back = StatusList::from_json(&serde_json::to_value(l.to_json()).unwrap()).unwrap();
        assert_eq!(back, l);
        assert_eq!(back.get(3), Some(3));
        assert_eq!(back.get(12), None);
    }

    #[test]
    fn bad_lists_and_values_are_refused() {
        assert!(StatusList::new(3, 8).is_err());
        let mut l = StatusList::new(1, 8).unwrap();
        assert!(l.set(0, 2).is_err());
        assert!(l.set(8, 1).is_err());
        let bad = serde_json::json!({"bits": 1, "lst": "AAAA"});
        assert!(StatusList::from_json(&bad).is_err());
        assert!(StatusRef::from_claim(&serde_json::json!({"x": 1})).is_err());
    }
}
