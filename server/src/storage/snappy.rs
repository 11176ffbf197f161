//! Reader for snappy-java's stream framing, which Apache uses for `snapshot.*.snappy`:
//! an 8-byte magic "\x82SNAPPY\0", version int, compatible-version int, then chunks of
//! (compressed length int, raw snappy block). Not the official snappy framing format.

use std::io::{self, Read};

/// Magic at the start of a snappy-java stream.
pub const MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
/// Largest chunk we accept; snappy-java writes 32 KiB blocks by default.
const MAX_CHUNK: usize = 64 * 1024 * 1024;

pub struct SnappyJavaReader<R> {
    inner: R,
    header_read: bool,
    buf: Vec<u8>,
    pos: usize,
    decoder: snap::raw::Decoder,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: Read> SnappyJavaReader<R> {
    pub fn new(inner: R) -> Self {
        SnappyJavaReader {
            inner,
            header_read: false,
            buf: Vec::new(),
            pos: 0,
            decoder: snap::raw::Decoder::new(),
        }
    }

    /// Loads the next chunk; false at a clean end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        if !self.header_read {
            let mut h = [0u8; 16];
            self.inner.read_exact(&mut h)?;
            if &h[..8] != MAGIC {
                return Err(invalid("not a snappy-java stream".into()));
            }
            self.header_read = true;
        }
        let mut len = [0u8; 4];
        match self.inner.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > MAX_CHUNK {
            return Err(invalid(format!("invalid snappy chunk length {len}")));
        }
        let mut compressed = vec![0u8; len as usize];
        self.inner.read_exact(&mut compressed)?;
        let n = snap::raw::decompress_len(&compressed).map_err(|e| invalid(e.to_string()))?;
        if n > MAX_CHUNK {
            return Err(invalid(format!("snappy chunk expands to {n} bytes")));
        }
        self.buf.resize(n, 0);
        self.decoder
            .decompress(&compressed, &mut self.buf)
            .map_err(|e| invalid(e.to_string()))?;
        self.pos = 0;
        Ok(true)
    }
}

impl<R: Read> Read for SnappyJavaReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunks_written_in_snappy_java_framing() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_be_bytes())
            .collect();
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        for chunk in data.chunks(32 * 1024) {
            let c = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
            file.extend_from_slice(&(c.len() as i32).to_be_bytes());
            file.extend_from_slice(&c);
        }
        let mut out = Vec::new();
        SnappyJavaReader::new(&file[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let mut bad = file.clone();
        bad[0] = 0;
        assert!(SnappyJavaReader::new(&bad[..])
            .read_to_end(&mut out)
            .is_err());
    }
}
