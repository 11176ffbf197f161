//! Election-port wire formats (facts §15.1): the connection handshake a dialer sends first,
//! the int-length framing of every later message, and the Fast Leader Election notification.
//!
//! Everything here is pure encode/decode so that the driver and the simulator share it.

use bytes::{Buf, BufMut, Bytes};

/// Handshake protocol version V1: one election address.
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// Handshake protocol version V2: several `|`-separated election addresses.
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// Largest address string a handshake may carry (Apache's `InitialMessage` limit).
pub const MAX_HANDSHAKE_ADDR_LEN: usize = 2048;
/// Largest framed message (Apache's `PACKETMAXSIZE`).
pub const MAX_FRAME_LEN: usize = 512 * 1024;
/// Notification format version we send: carries the sender's config text.
pub const NOTIFICATION_VERSION: i32 = 2;
/// Fixed part of a version-2 notification, before the config text.
pub const NOTIFICATION_HEADER_LEN: usize = 44;

/// A malformed handshake, frame or notification. The connection (or message) is dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElectionWireError {
    #[error("unexpected end of input while reading {0}")]
    Eof(&'static str),
    #[error("unrecognised handshake protocol version {0}")]
    BadProtocolVersion(i64),
    #[error("unreasonable handshake address length {0}")]
    BadAddrLength(i32),
    #[error("handshake address is not UTF-8")]
    AddrNotUtf8,
    #[error("handshake address {0:?} is not host:port")]
    BadAddr(String),
    #[error("frame length {0} outside 1..={MAX_FRAME_LEN}")]
    BadFrameLength(i32),
    #[error("notification too short: {0} bytes (at least 28)")]
    ShortNotification(usize),
    #[error("unknown server state {0} in notification")]
    UnknownState(i32),
    #[error("bad config length {0} in notification")]
    BadConfigLength(i32),
}

/// What a dialer announces right after connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Pre-3.5 dialer: only its sid.
    Legacy { sid: u64 },
    /// `protocol_version` is [`PROTOCOL_VERSION_V1`] or [`PROTOCOL_VERSION_V2`]; `addrs` are the
    /// dialer's election addresses as "host:port" strings.
    Versioned {
        protocol_version: i64,
        sid: u64,
        addrs: Vec<String>,
    },
}

impl Handshake {
    /// The dialer's server id.
    pub fn sid(&self) -> u64 {
        match self {
            Handshake::Legacy { sid } | Handshake::Versioned { sid, .. } => *sid,
        }
    }

    /// Encodes the handshake bytes (no framing: they are the first bytes on the socket).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Handshake::Legacy { sid } => out.put_i64(*sid as i64),
            Handshake::Versioned {
                protocol_version,
                sid,
                addrs,
            } => {
                let joined = addrs.join("|");
                out.put_i64(*protocol_version);
                out.put_i64(*sid as i64);
                out.put_i32(joined.len() as i32);
                out.put_slice(joined.as_bytes());
            }
        }
        out
    }

    /// Decodes a complete handshake from `buf`, returning it and the bytes consumed; `Ok(None)`
    /// when more bytes are needed.
    pub fn decode(buf: &[u8]) -> Result<Option<(Handshake, usize)>, ElectionWireError> {
        let mut r = buf;
        if r.remaining() < 8 {
            return Ok(None);
        }
        let first = r.get_i64();
        if first >= 0 {
            return Ok(Some((Handshake::Legacy { sid: first as u64 }, 8)));
        }
        if first != PROTOCOL_VERSION_V1 && first != PROTOCOL_VERSION_V2 {
            return Err(ElectionWireError::BadProtocolVersion(first));
        }
        if r.remaining() < 12 {
            return Ok(None);
        }
        let sid = r.get_i64() as u64;
        let len = r.get_i32();
        if len <= 0 || len as usize > MAX_HANDSHAKE_ADDR_LEN {
            return Err(ElectionWireError::BadAddrLength(len));
        }
        let len = len as usize;
        if r.remaining() < len {
            return Ok(None);
        }
        let text = std::str::from_utf8(&r[..len]).map_err(|_| ElectionWireError::AddrNotUtf8)?;
        let addrs = text
            .split('|')
            .map(|a| validate_host_port(a).map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((
            Handshake::Versioned {
                protocol_version: first,
                sid,
                addrs,
            },
            20 + len,
        )))
    }
}

/// Checks "host:port" (IPv6 host in brackets) the way Apache's `InitialMessage` does.
fn validate_host_port(a: &str) -> Result<&str, ElectionWireError> {
    let bad = || ElectionWireError::BadAddr(a.to_string());
    let port = if let Some(rest) = a.strip_prefix('[') {
        let close = rest.find(']').ok_or_else(bad)?;
        rest[close + 1..].strip_prefix(':').ok_or_else(bad)?
    } else {
        let (host, port) = a.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty() || host.contains(':') {
            return Err(bad());
        }
        port
    };
    port.parse::<u16>().map_err(|_| bad())?;
    Ok(a)
}

/// Wraps a payload in the int-length frame used after the handshake.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.put_i32(payload.len() as i32);
    out.put_slice(payload);
    out
}

/// Checks a frame length prefix; the payload of that many bytes follows.
pub fn check_frame_len(len: i32) -> Result<usize, ElectionWireError> {
    if len <= 0 || len as usize > MAX_FRAME_LEN {
        Err(ElectionWireError::BadFrameLength(len))
    } else {
        Ok(len as usize)
    }
}

/// A server's state as carried in notifications (`QuorumPeer.ServerState` ordinals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    Looking,
    Following,
    Leading,
    Observing,
}

impl ServerState {
    pub fn ordinal(self) -> i32 {
        match self {
            ServerState::Looking => 0,
            ServerState::Following => 1,
            ServerState::Leading => 2,
            ServerState::Observing => 3,
        }
    }

    pub fn from_ordinal(v: i32) -> Result<ServerState, ElectionWireError> {
        match v {
            0 => Ok(ServerState::Looking),
            1 => Ok(ServerState::Following),
            2 => Ok(ServerState::Leading),
            3 => Ok(ServerState::Observing),
            other => Err(ElectionWireError::UnknownState(other)),
        }
    }
}

/// An FLE notification: the sender's state and the vote it proposes or follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub state: ServerState,
    /// Proposed (or followed) leader sid.
    pub leader: u64,
    /// The candidate's last logged zxid.
    pub zxid: i64,
    /// The sender's logical clock (election round).
    pub election_epoch: i64,
    /// The candidate's currentEpoch.
    pub peer_epoch: i64,
    /// Message format version: 0 for the legacy 28/40-byte forms, 2 with config.
    pub version: i32,
    /// The sender's config text (facts §10); empty before version 2.
    pub config: Bytes,
}

impl Notification {
    /// Encodes the version-2 form (44 bytes + config), whatever `version` says.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NOTIFICATION_HEADER_LEN + self.config.len());
        out.put_i32(self.state.ordinal());
        out.put_i64(self.leader as i64);
        out.put_i64(self.zxid);
        out.put_i64(self.election_epoch);
        out.put_i64(self.peer_epoch);
        out.put_i32(NOTIFICATION_VERSION);
        out.put_i32(self.config.len() as i32);
        out.put_slice(&self.config);
        out
    }

    /// Decodes a frame payload. A 28-byte message has no peer epoch (taken from the zxid's
    /// high 32 bits); a 40-byte message is read as having no version, as Apache does.
    pub fn decode(payload: Bytes) -> Result<Notification, ElectionWireError> {
        let total = payload.len();
        if total < 28 {
            return Err(ElectionWireError::ShortNotification(total));
        }
        let mut r = payload;
        let state = ServerState::from_ordinal(r.get_i32())?;
        let leader = r.get_i64() as u64;
        let zxid = r.get_i64();
        let election_epoch = r.get_i64();
        let mut version = 0;
        let peer_epoch = if total == 28 {
            zxid >> 32
        } else {
            let need = |n: usize, r: &Bytes, what| {
                if r.remaining() < n {
                    Err(ElectionWireError::Eof(what))
                } else {
                    Ok(())
                }
            };
            need(8, &r, "peerEpoch")?;
            let pe = r.get_i64();
            if total != 40 {
                need(4, &r, "version")?;
                version = r.get_i32();
            }
            pe
        };
        let mut config = Bytes::new();
        if version > 1 {
            if r.remaining() < 4 {
                return Err(ElectionWireError::Eof("config length"));
            }
            let len = r.get_i32();
            if len < 0 || len as usize > r.remaining() {
                return Err(ElectionWireError::BadConfigLength(len));
            }
            config = r.split_to(len as usize);
        }
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_v1_bytes() {
        let h = Handshake::Versioned {
            protocol_version: PROTOCOL_VERSION_V1,
            sid: 3,
            addrs: vec!["127.0.0.1:3888".into()],
        };
        let bytes = h.encode();
        let mut want = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00];
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        want.extend_from_slice(&[0, 0, 0, 14]);
        want.extend_from_slice(b"127.0.0.1:3888");
        assert_eq!(bytes, want);
        assert_eq!(Handshake::decode(&want).unwrap(), Some((h, want.len())));
        // Every proper prefix asks for more input.
        for cut in 0..want.len() {
            assert_eq!(Handshake::decode(&want[..cut]).unwrap(), None, "cut {cut}");
        }
    }

    #[test]
    fn handshake_v2_multi_and_legacy() {
        let h = Handshake::Versioned {
            protocol_version: PROTOCOL_VERSION_V2,
            sid: 7,
            addrs: vec!["a:1".into(), "[::1]:2".into()],
        };
        let bytes = h.encode();
        assert_eq!(
            &bytes[..8],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01]
        );
        assert_eq!(&bytes[16..20], &[0, 0, 0, 11]);
        assert_eq!(&bytes[20..], b"a:1|[::1]:2");
        assert_eq!(Handshake::decode(&bytes).unwrap().unwrap().0, h);

        let legacy = Handshake::Legacy { sid: 5 }.encode();
        assert_eq!(legacy, vec![0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(
            Handshake::decode(&legacy).unwrap(),
            Some((Handshake::Legacy { sid: 5 }, 8))
        );
    }

    #[test]
    fn handshake_rejects_garbage() {
        let mut b = Vec::new();
        b.put_i64(-3);
        assert_eq!(
            Handshake::decode(&b),
            Err(ElectionWireError::BadProtocolVersion(-3))
        );
        let mut b = Vec::new();
        b.put_i64(PROTOCOL_VERSION_V1);
        b.put_i64(1);
        b.put_i32(4096);
        assert_eq!(
            Handshake::decode(&b),
            Err(ElectionWireError::BadAddrLength(4096))
        );
        let mut b = Vec::new();
        b.put_i64(PROTOCOL_VERSION_V1);
        b.put_i64(1);
        b.put_i32(4);
        b.put_slice(b"host");
        assert_eq!(
            Handshake::decode(&b),
            Err(ElectionWireError::BadAddr("host".into()))
        );
    }

    #[test]
    fn notification_v2_bytes() {
        let n = Notification {
            state: ServerState::Leading,
            leader: 2,
            zxid: 0x1_0000_0005,
            election_epoch: 3,
            peer_epoch: 1,
            version: 2,
            config: Bytes::from_static(b"version=0"),
        };
        let b = n.encode();
        let mut want = vec![0, 0, 0, 2];
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]);
        want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 5]);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        want.extend_from_slice(&[0, 0, 0, 2]);
        want.extend_from_slice(&[0, 0, 0, 9]);
        want.extend_from_slice(b"version=0");
        assert_eq!(b, want);
        assert_eq!(b.len(), 44 + 9);
        assert_eq!(Notification::decode(Bytes::from(want)).unwrap(), n);
    }

    #[test]
    fn notification_legacy_forms() {
        // 28 bytes: state, leader, zxid, electionEpoch; peer epoch from the zxid.
        let mut b = Vec::new();
        b.put_i32(0);
        b.put_i64(4);
        b.put_i64(0x7_0000_0001);
        b.put_i64(9);
        let n = Notification::decode(Bytes::from(b.clone())).unwrap();
        assert_eq!(n.state, ServerState::Looking);
        assert_eq!((n.leader, n.zxid, n.election_epoch), (4, 0x7_0000_0001, 9));
        assert_eq!(n.peer_epoch, 7);
        assert_eq!(n.version, 0);
        // 40 bytes: peer epoch present, trailing int not read as a version.
        b.put_i64(6);
        b.put_i32(1);
        let n = Notification::decode(Bytes::from(b)).unwrap();
        assert_eq!(n.peer_epoch, 6);
        assert_eq!(n.version, 0);
        assert!(n.config.is_empty());
    }

    #[test]
    fn notification_errors() {
        assert_eq!(
            Notification::decode(Bytes::from(vec![0u8; 27])),
            Err(ElectionWireError::ShortNotification(27))
        );
        let mut b = vec![0, 0, 0, 9];
        b.extend_from_slice(&[0u8; 24]);
        assert_eq!(
            Notification::decode(Bytes::from(b)),
            Err(ElectionWireError::UnknownState(9))
        );
        let mut n = Notification {
            state: ServerState::Looking,
            leader: 1,
            zxid: 0,
            election_epoch: 1,
            peer_epoch: 0,
            version: 2,
            config: Bytes::from_static(b"abc"),
        }
        .encode();
        n.truncate(45);
        assert_eq!(
            Notification::decode(Bytes::from(n)),
            Err(ElectionWireError::BadConfigLength(3))
        );
    }

    #[test]
    fn framing() {
        assert_eq!(encode_frame(b"xy"), vec![0, 0, 0, 2, b'x', b'y']);
        assert_eq!(check_frame_len(1), Ok(1));
        assert_eq!(check_frame_len(512 * 1024), Ok(512 * 1024));
        assert!(check_frame_len(0).is_err());
        assert!(check_frame_len(512 * 1024 + 1).is_err());
        assert!(check_frame_len(-1).is_err());
    }
}
