//! Framing (int length + payload) and the headerless connect handshake (facts §2, §2.1).

use std::time::Duration;

use bytes::{BufMut, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::ClientError;
use crate::proto::jute::{Jute, JuteReader, JuteWrite};
use crate::proto::records::{ConnectRequestFixed, ConnectResponseFixed, RequestHeader};

/// Length of a session password.
pub const PASSWORD_LEN: usize = 16;

/// Reads one frame. A length below 0 or above `max` is a protocol error: the stream cannot be
/// resynchronised after it, so the caller drops the connection.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<Bytes, ClientError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let n = i32::from_be_bytes(len);
    if n < 0 || n as usize > max {
        return Err(ClientError::Protocol(format!(
            "frame length {n} out of range (max {max})"
        )));
    }
    let mut buf = vec![0u8; n as usize];
    r.read_exact(&mut buf).await?;
    Ok(Bytes::from(buf))
}

/// A request frame: length, RequestHeader, then the already-encoded request record.
pub fn request_frame(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut w = Vec::with_capacity(12 + body.len());
    w.put_i32((8 + body.len()) as i32);
    RequestHeader { xid, op }.write_to(&mut w);
    w.put_slice(body);
    w
}

/// What the client asks for in a ConnectRequest.
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: bool,
}

/// What the server granted in its ConnectResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// The server is in read-only mode (false when it left the byte out).
    pub read_only: bool,
}

/// The framed ConnectRequest, always with the trailing readOnly byte.
pub fn connect_frame(p: &ConnectParams) -> Vec<u8> {
    let mut body = Vec::new();
    ConnectRequestFixed {
        protocol_version: 0,
        last_zxid_seen: p.last_zxid_seen,
        time_out: p.timeout_ms,
        session_id: p.session_id,
        passwd: Some(Bytes::copy_from_slice(&p.passwd)),
    }
    .write_to(&mut body);
    body.put_bool_j(p.read_only);
    let mut w = Vec::with_capacity(4 + body.len());
    w.put_i32(body.len() as i32);
    w.put_slice(&body);
    w
}

/// Decodes a ConnectResponse with or without the readOnly byte. Timeout 0 (or less) means the
/// server considers the session invalid or expired.
pub fn decode_connect_response(frame: Bytes) -> Result<Granted, ClientError> {
    let mut r = JuteReader::new(frame);
    let fixed = ConnectResponseFixed::read_from(&mut r)?;
    let read_only = if r.is_empty() {
        false
    } else {
        r.read_bool("readOnly")?
    };
    if fixed.time_out <= 0 {
        return Err(ClientError::SessionExpired);
    }
    Ok(Granted {
        timeout_ms: fixed.time_out,
        session_id: fixed.session_id,
        passwd: fixed.passwd.map(|b| b.to_vec()).unwrap_or_default(),
        read_only,
    })
}

/// Opens a TCP connection to `host` and performs the handshake within `limit`.
pub async fn open(
    host: &str,
    params: &ConnectParams,
    limit: Duration,
    max_frame: usize,
) -> Result<(TcpStream, Granted), ClientError> {
    let attempt = async {
        let mut stream = TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        stream.write_all(&connect_frame(params)).await?;
        let frame = read_frame(&mut stream, max_frame).await?;
        let granted = decode_connect_response(frame)?;
        Ok::<_, ClientError>((stream, granted))
    };
    tokio::time::timeout(limit, attempt)
        .await
        .map_err(|_| ClientError::Timeout)?
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn response(timeout: i32, ro: Option<bool>) -> Bytes {
        let mut w = Vec::new();
        ConnectResponseFixed {
            protocol_version: 0,
            time_out: timeout,
            session_id: 0x42,
            passwd: Some(Bytes::from_static(&[7; 16])),
        }
        .write_to(&mut w);
        if let Some(ro) = ro {
            w.put_bool_j(ro);
        }
        Bytes::from(w)
    }

    #[test]
    fn connect_response_with_and_without_read_only_byte() {
        let g = decode_connect_response(response(4000, None)).unwrap();
        assert_eq!(
            (g.timeout_ms, g.session_id, g.read_only),
            (4000, 0x42, false)
        );
        assert_eq!(g.passwd, vec![7; 16]);
        assert!(
            decode_connect_response(response(4000, Some(true)))
                .unwrap()
                .read_only
        );
    }

    #[test]
    fn timeout_zero_means_expired() {
        assert!(matches!(
            decode_connect_response(response(0, Some(false))),
            Err(ClientError::SessionExpired)
        ));
    }

    #[test]
    fn connect_frame_layout() {
        let f = connect_frame(&ConnectParams {
            last_zxid_seen: 5,
            timeout_ms: 3000,
            session_id: 0,
            passwd: vec![0; PASSWORD_LEN],
            read_only: true,
        });
        // len(4) + proto(4) + zxid(8) + timeout(4) + session(8) + passwd(4+16) + readOnly(1)
        assert_eq!(f.len(), 4 + 45);
        assert_eq!(&f[..4], &45i32.to_be_bytes());
        assert_eq!(f[f.len() - 1], 1);
    }

    #[tokio::test]
    async fn frame_reader_rejects_bad_lengths() {
        let mut oversize: &[u8] = &[0, 0x10, 0, 0, 1];
        assert!(matches!(
            read_frame(&mut oversize, 0xfffff).await,
            Err(ClientError::Protocol(_))
        ));
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xfe];
        assert!(matches!(
            read_frame(&mut negative, 0xfffff).await,
            Err(ClientError::Protocol(_))
        ));
        let mut ok: &[u8] = &[0, 0, 0, 2, 9, 8];
        assert_eq!(&read_frame(&mut ok, 10).await.unwrap()[..], &[9, 8]);
        let mut short: &[u8] = &[0, 0, 0, 5, 1];
        assert!(matches!(
            read_frame(&mut short, 10).await,
            Err(ClientError::Io(_))
        ));
    }
}
