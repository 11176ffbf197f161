//! Jute binary encoding: big-endian integers, length-prefixed strings and buffers
//! (−1 = null), count-prefixed vectors, records as their fields back to back.
//!
//! Decoding reads from a [`Bytes`] so that buffers are zero-copy slices of the frame.

use bytes::{Buf, BufMut, Bytes};

/// Default `jute.maxbuffer`: the largest frame the server accepts.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// A decode failure. Any of these makes the whole frame (or file record) invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JuteError {
    #[error("unexpected end of input while reading {0}")]
    Eof(&'static str),
    #[error("invalid length {len} for {what} (limit {limit})")]
    BadLength {
        what: &'static str,
        len: i64,
        limit: usize,
    },
    #[error("invalid value {value} for {what}")]
    BadValue { what: &'static str, value: i64 },
}

/// Reads jute values from a buffer. Lengths of strings, buffers and vectors are bounded by
/// `max_len` (Apache: jute.maxbuffer + extrasize).
#[derive(Debug, Clone)]
pub struct JuteReader {
    buf: Bytes,
    max_len: usize,
}

impl JuteReader {
    pub fn new(buf: Bytes) -> Self {
        Self::with_max_len(buf, 2 * DEFAULT_MAX_BUFFER)
    }

    pub fn with_max_len(buf: Bytes, max_len: usize) -> Self {
        JuteReader { buf, max_len }
    }

    pub fn remaining(&self) -> usize {
        self.buf.remaining()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not read yet, without consuming them.
    pub fn rest(&self) -> &Bytes {
        &self.buf
    }

    /// Consumes and returns everything that is left.
    pub fn take_rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    fn need(&self, n: usize, what: &'static str) -> Result<(), JuteError> {
        if self.buf.remaining() < n {
            Err(JuteError::Eof(what))
        } else {
            Ok(())
        }
    }

    pub fn read_u8(&mut self, what: &'static str) -> Result<u8, JuteError> {
        self.need(1, what)?;
        Ok(self.buf.get_u8())
    }

    pub fn read_bool(&mut self, what: &'static str) -> Result<bool, JuteError> {
        Ok(self.read_u8(what)? != 0)
    }

    pub fn read_i32(&mut self, what: &'static str) -> Result<i32, JuteError> {
        self.need(4, what)?;
        Ok(self.buf.get_i32())
    }

    pub fn read_i64(&mut self, what: &'static str) -> Result<i64, JuteError> {
        self.need(8, what)?;
        Ok(self.buf.get_i64())
    }

    /// Reads a length prefix; `None` for −1 (null).
    fn read_len(&mut self, what: &'static str) -> Result<Option<usize>, JuteError> {
        let len = self.read_i32(what)?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 || len as usize > self.max_len {
            return Err(JuteError::BadLength {
                what,
                len: len as i64,
                limit: self.max_len,
            });
        }
        Ok(Some(len as usize))
    }

    /// A buffer; `None` when null.
    pub fn read_buffer(&mut self, what: &'static str) -> Result<Option<Bytes>, JuteError> {
        match self.read_len(what)? {
            None => Ok(None),
            Some(n) => {
                self.need(n, what)?;
                Ok(Some(self.buf.split_to(n)))
            }
        }
    }

    /// A ustring; `None` when null. Invalid UTF-8 is replaced as Java's decoder does.
    pub fn read_opt_string(&mut self, what: &'static str) -> Result<Option<String>, JuteError> {
        Ok(self
            .read_buffer(what)?
            .map(|b| match String::from_utf8(b.to_vec()) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }))
    }

    /// A ustring where null reads as the empty string (the Go client writes "" for null).
    pub fn read_string(&mut self, what: &'static str) -> Result<String, JuteError> {
        Ok(self.read_opt_string(what)?.unwrap_or_default())
    }

    /// A vector count; `None` when null.
    pub fn read_vec_len(&mut self, what: &'static str) -> Result<Option<usize>, JuteError> {
        let n = self.read_len(what)?;
        // Every element takes at least one byte, so a count beyond the input is a lie.
        if let Some(n) = n {
            if n > self.buf.remaining() {
                return Err(JuteError::BadLength {
                    what,
                    len: n as i64,
                    limit: self.buf.remaining(),
                });
            }
        }
        Ok(n)
    }
}

/// Writes jute values; implemented for every [`BufMut`] (`Vec<u8>`, `BytesMut`).
pub trait JuteWrite: BufMut {
    fn put_bool_j(&mut self, v: bool) {
        self.put_u8(v as u8);
    }
    fn put_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.put_i32(-1),
            Some(b) => {
                self.put_i32(b.len() as i32);
                self.put_slice(b);
            }
        }
    }
    fn put_ustring(&mut self, v: &str) {
        self.put_buffer(Some(v.as_bytes()));
    }
    fn put_opt_ustring(&mut self, v: Option<&str>) {
        self.put_buffer(v.map(str::as_bytes));
    }
}

impl<T: BufMut + ?Sized> JuteWrite for T {}

/// A value that has a jute encoding: a primitive, a string, a buffer, a vector or a record.
pub trait Jute: Sized {
    fn write_to<W: BufMut>(&self, w: &mut W);
    fn read_from(r: &mut JuteReader) -> Result<Self, JuteError>;

    /// Encodes into a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }

    /// Decodes from a complete buffer (trailing bytes are ignored, as Java does).
    fn from_bytes(b: Bytes) -> Result<Self, JuteError> {
        Self::read_from(&mut JuteReader::new(b))
    }
}

impl Jute for i32 {
    fn write_to<W: BufMut>(&self, w: &mut W) {
        w.put_i32(*self)
    }
    fn read_from(r: &mut JuteReader) -> Result<Self, JuteError> {
        r.read_i32("int")
    }
}

impl Jute for i64 {
    fn write_to<W: BufMut>(&self, w: &mut W) {
        w.put_i64(*self)
    }
    fn read_from(r: &mut JuteReader) -> Result<Self, JuteError> {
        r.read_i64("long")
    }
}

impl Jute for bool {
    fn write_to<W: BufMut>(&self, w: &mut W) {
        w.put_bool_j(*self)
    }
    fn read_from(r: &mut JuteReader) -> Result<Self, JuteError> {
        r.read_bool("boolean")
    }
}

impl Jute for String {
    fn write_to<W: BufMut>(&self, w: &mut W) {
        w.put_ustring(self)
    }
    fn read_from(r: &mut JuteReader) -> Result<Self, JuteError> {
        r.read_string("ustring")
    }
}

/// A buffer that may be null (znode data is null when a client creates without data).
impl Jute for Option<Bytes> {
    fn write_to<W: BufMut>(&self, w: &mut W) {
        w.put_buffer(self.as_deref())
    }
    fn read_from(r: &mut JuteReader) -> Result<Self, JuteError> {
        r.read_buffer("buffer")
    }
}

/// A vector; null reads as empty and empty writes as empty.
impl<T: Jute> Jute for Vec<T> {
    fn write_to<W: BufMut>(&self, w: &mut W) {
        w.put_i32(self.len() as i32);
        for x in self {
            x.write_to(w);
        }
    }
    fn read_from(r: &mut JuteReader) -> Result<Self, JuteError> {
        let n = r.read_vec_len("vector")?.unwrap_or(0);
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::read_from(r)?);
        }
        Ok(v)
    }
}

/// Declares a jute record: a struct whose fields are encoded in declaration order.
#[macro_export]
macro_rules! jute_record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }
        impl $crate::proto::jute::Jute for $name {
            fn write_to<W: ::bytes::BufMut>(&self, _w: &mut W) {
                $( $crate::proto::jute::Jute::write_to(&self.$f, _w); )*
            }
            fn read_from(_r: &mut $crate::proto::jute::JuteReader) -> Result<Self, $crate::proto::jute::JuteError> {
                Ok($name { $($f: <$t as $crate::proto::jute::Jute>::read_from(_r)?),* })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_are_distinct() {
        let mut v = Vec::new();
        v.put_buffer(None);
        v.put_buffer(Some(b""));
        v.put_ustring("ab");
        let mut r = JuteReader::new(Bytes::from(v));
        assert_eq!(r.read_buffer("a").unwrap(), None);
        assert_eq!(r.read_buffer("b").unwrap(), Some(Bytes::new()));
        assert_eq!(r.read_string("c").unwrap(), "ab");
        assert!(r.is_empty());
    }

    #[test]
    fn rejects_negative_and_oversize_lengths() {
        let mut v = Vec::new();
        v.put_i32(-2);
        assert!(JuteReader::new(Bytes::from(v)).read_buffer("x").is_err());
        let mut v = Vec::new();
        v.put_i32(100);
        v.put_slice(&[0; 100]);
        assert!(JuteReader::with_max_len(Bytes::from(v), 10)
            .read_buffer("x")
            .is_err());
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut v = Vec::new();
        v.put_i32(10);
        v.put_slice(b"abc");
        assert!(matches!(
            JuteReader::new(Bytes::from(v)).read_buffer("x"),
            Err(JuteError::Eof(_))
        ));
        let mut r = JuteReader::new(Bytes::from_static(&[0, 0, 1]));
        assert!(r.read_i32("i").is_err());
    }

    #[test]
    fn vector_count_cannot_exceed_input() {
        let mut v = Vec::new();
        v.put_i32(1_000_000);
        assert!(Vec::<i32>::from_bytes(Bytes::from(v)).is_err());
    }
}
