//! Jute over `std::io` streams (snapshots are streamed, not framed) and Adler-32 wrappers that
//! checksum every byte that passes through them, as Java's Checked{Input,Output}Stream do.

use std::io::{self, BufRead, Read, Write};

use simd_adler32::Adler32;

/// Upper bound on one buffer or string read from a file, so garbage cannot make us allocate
/// gigabytes. Generous: snapshots written with a raised `jute.maxbuffer` must still load.
pub const MAX_FILE_BUFFER: usize = 256 * 1024 * 1024;

/// Bytes an [`AdlerReader`] reads from its source at once.
const READ_CHUNK: usize = 256 * 1024;

/// A buffered reader that keeps the Adler-32 and count of the bytes consumed through it.
///
/// It buffers itself (no `BufReader` needed under it) and hands its buffer out through
/// [`BufRead`], so a parser can decode whole records in place; the checksum is brought up to
/// date in bulk, over the consumed part of the buffer, rather than on every small read.
pub struct AdlerReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Next unconsumed byte of `buf`.
    pos: usize,
    /// End of the valid bytes in `buf`.
    filled: usize,
    /// `buf[..summed]` is already in `adler`; `buf[summed..pos]` is consumed but not yet.
    summed: usize,
    adler: Adler32,
    count: u64,
}

impl<R: Read> AdlerReader<R> {
    pub fn new(inner: R) -> Self {
        AdlerReader {
            inner,
            buf: vec![0; READ_CHUNK],
            pos: 0,
            filled: 0,
            summed: 0,
            adler: Adler32::new(),
            count: 0,
        }
    }

    /// Adler-32 of everything consumed so far.
    pub fn checksum(&self) -> u32 {
        let mut a = self.adler.clone();
        a.write(&self.buf[self.summed..self.pos]);
        a.finish()
    }

    /// Number of bytes consumed so far (the offset in the uncompressed stream).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Folds the consumed part of the buffer into the checksum.
    fn sum_consumed(&mut self) {
        self.adler.write(&self.buf[self.summed..self.pos]);
        self.summed = self.pos;
    }
}

impl<R: Read> Read for AdlerReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.filled && out.len() >= self.buf.len() {
            // Large read with nothing buffered: straight into the caller's buffer.
            self.sum_consumed();
            let n = self.inner.read(out)?;
            self.adler.write(&out[..n]);
            self.count += n as u64;
            return Ok(n);
        }
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for AdlerReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            self.sum_consumed();
            let n = loop {
                match self.inner.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            self.pos = 0;
            self.summed = 0;
            self.filled = n;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.filled - self.pos);
        self.pos += n;
        self.count += n as u64;
    }
}

/// A writer that keeps the Adler-32 and count of the bytes written through it.
pub struct AdlerWriter<W> {
    inner: W,
    adler: Adler32,
    count: u64,
}

impl<W: Write> AdlerWriter<W> {
    pub fn new(inner: W) -> Self {
        AdlerWriter {
            inner,
            adler: Adler32::new(),
            count: 0,
        }
    }
    pub fn checksum(&self) -> u32 {
        self.adler.finish()
    }
    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for AdlerWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.adler.write(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

pub fn read_u8(r: &mut dyn Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

pub fn read_i32(r: &mut dyn Read) -> io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_be_bytes(b))
}

pub fn read_i64(r: &mut dyn Read) -> io::Result<i64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(i64::from_be_bytes(b))
}

/// A jute buffer; `None` for length −1. Other negative or oversized lengths are InvalidData.
pub fn read_buffer(r: &mut dyn Read) -> io::Result<Option<Vec<u8>>> {
    let len = read_i32(r)?;
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as usize > MAX_FILE_BUFFER {
        return Err(invalid(format!("invalid buffer length {len}")));
    }
    let mut v = Vec::new();
    // take() bounds the read: a lying length ends in UnexpectedEof, not a huge allocation.
    r.take(len as u64).read_to_end(&mut v)?;
    if v.len() != len as usize {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "buffer shorter than its length",
        ));
    }
    Ok(Some(v))
}

/// A jute ustring; null reads as "" (Java's readers do the same for paths).
pub fn read_string(r: &mut dyn Read) -> io::Result<String> {
    Ok(read_buffer(r)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default())
}

/// A vector count; −1 (null) reads as 0.
pub fn read_count(r: &mut dyn Read) -> io::Result<usize> {
    let n = read_i32(r)?;
    match n {
        -1 => Ok(0),
        n if n < 0 => Err(invalid(format!("invalid vector count {n}"))),
        n => Ok(n as usize),
    }
}

pub fn write_i32(w: &mut dyn Write, v: i32) -> io::Result<()> {
    w.write_all(&v.to_be_bytes())
}

pub fn write_i64(w: &mut dyn Write, v: i64) -> io::Result<()> {
    w.write_all(&v.to_be_bytes())
}

pub fn write_buffer(w: &mut dyn Write, v: Option<&[u8]>) -> io::Result<()> {
    match v {
        None => write_i32(w, -1),
        Some(b) => {
            write_i32(w, b.len() as i32)?;
            w.write_all(b)
        }
    }
}

pub fn write_string(w: &mut dyn Write, s: &str) -> io::Result<()> {
    write_buffer(w, Some(s.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn adler_matches_reference_value() {
        // Adler-32("Wikipedia") = 0x11E60398.
        let mut w = AdlerWriter::new(Vec::new());
        w.write_all(b"Wiki").unwrap();
        w.write_all(b"pedia").unwrap();
        assert_eq!(w.checksum(), 0x11E6_0398);
        let mut r = AdlerReader::new(&b"Wikipedia"[..]);
        let mut s = Vec::new();
        r.read_to_end(&mut s).unwrap();
        assert_eq!(r.checksum(), 0x11E6_0398);
        assert_eq!(r.count(), 9);
    }

    #[test]
    fn buffered_reader_checksums_exactly_what_was_consumed() {
        let data: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let reference = |n: usize| {
            let mut a = simd_adler32::Adler32::new();
            a.write(&data[..n]);
            a.finish()
        };
        let mut r = AdlerReader::new(&data[..]);
        let mut consumed = 0;
        // Small reads, in-place consumption and a read larger than the buffer, mixed.
        for step in [1usize, 5, 4096, READ_CHUNK + 3, 17, 100_000] {
            let mut out = vec![0u8; step];
            r.read_exact(&mut out).unwrap();
            assert_eq!(out, data[consumed..consumed + step]);
            consumed += step;
            assert_eq!(
                (r.checksum(), r.count()),
                (reference(consumed), consumed as u64)
            );
            let avail = r.fill_buf().unwrap().len().min(9);
            r.consume(avail);
            consumed += avail;
            assert_eq!(
                (r.checksum(), r.count()),
                (reference(consumed), consumed as u64)
            );
        }
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[consumed..]);
        assert_eq!(r.checksum(), reference(data.len()));
    }

    #[test]
    fn lying_length_is_eof_not_allocation() {
        let mut v = Vec::new();
        write_i32(&mut v, 100_000_000).unwrap();
        v.extend_from_slice(b"abc");
        let e = read_buffer(&mut &v[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let mut v = Vec::new();
        write_i32(&mut v, -5).unwrap();
        assert_eq!(
            read_buffer(&mut &v[..]).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
