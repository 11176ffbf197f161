//! Learner ↔ leader quorum packets (facts §15.2): the stream is back-to-back jute
//! [`QuorumPacket`] records with no length prefix. [`ZabPacket`] is the typed view the Zab
//! state machines use; [`ZabPacket::to_wire`] / [`ZabPacket::from_wire`] convert exactly.

use bytes::{BufMut, Bytes};

use super::jute::{Jute, JuteError, JuteReader, DEFAULT_MAX_BUFFER};
use super::records::{Id, LearnerInfo, QuorumPacket};

/// QuorumPacket `type` values (Apache `Leader.java`).
pub mod pkt {
    pub const REQUEST: i32 = 1;
    pub const PROPOSAL: i32 = 2;
    pub const ACK: i32 = 3;
    pub const COMMIT: i32 = 4;
    pub const PING: i32 = 5;
    pub const REVALIDATE: i32 = 6;
    pub const SYNC: i32 = 7;
    pub const INFORM: i32 = 8;
    pub const COMMITANDACTIVATE: i32 = 9;
    pub const NEWLEADER: i32 = 10;
    pub const FOLLOWERINFO: i32 = 11;
    pub const UPTODATE: i32 = 12;
    pub const DIFF: i32 = 13;
    pub const TRUNC: i32 = 14;
    pub const SNAP: i32 = 15;
    pub const OBSERVERINFO: i32 = 16;
    pub const LEADERINFO: i32 = 17;
    pub const ACKEPOCH: i32 = 18;
    pub const INFORMANDACTIVATE: i32 = 19;
}

/// "Zab 1.0": carried in LearnerInfo and LEADERINFO.
pub const ZAB_PROTOCOL_VERSION: i32 = 0x10000;

/// Largest packet data accepted from a peer (Apache bounds it by jute.maxbuffer).
pub const MAX_PACKET_DATA: usize = 2 * DEFAULT_MAX_BUFFER;

/// Largest buffered partial record: data plus generous room for header and authinfo.
const MAX_STREAM_RECORD: usize = 2 * MAX_PACKET_DATA;

/// At most this many session touches in one PING (12 bytes each within MAX_PACKET_DATA).
const MAX_PING_SESSIONS: usize = MAX_PACKET_DATA / 12;

/// A quorum packet that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    #[error("malformed quorum packet: {0}")]
    Jute(#[from] JuteError),
    #[error("unknown quorum packet type {0}")]
    UnknownType(i32),
    #[error("quorum record larger than {0} bytes")]
    TooLarge(usize),
    #[error("quorum packet type {kind} needs data ({what})")]
    MissingData { kind: i32, what: &'static str },
}

/// Which side sent a packet; PING and REVALIDATE payloads differ by direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToLeader,
    ToLearner,
}

/// One typed quorum packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZabPacket {
    /// A client request forwarded by a learner.
    Request {
        session_id: i64,
        cxid: i32,
        kind: i32,
        request: Bytes,
        authinfo: Vec<Id>,
    },
    Proposal {
        zxid: i64,
        txn: Bytes,
    },
    Ack {
        zxid: i64,
    },
    Commit {
        zxid: i64,
    },
    /// Leader → learner: `sessions` empty. Learner → leader: touched (sessionId, timeout).
    Ping {
        zxid: i64,
        sessions: Vec<(i64, i32)>,
    },
    RevalidateRequest {
        session_id: i64,
        timeout: i32,
    },
    RevalidateReply {
        session_id: i64,
        valid: bool,
    },
    Sync,
    Inform {
        zxid: i64,
        txn: Bytes,
    },
    CommitAndActivate {
        zxid: i64,
        leader_sid: i64,
    },
    NewLeader {
        zxid: i64,
        config: Bytes,
    },
    FollowerInfo {
        zxid: i64,
        info: LearnerInfo,
    },
    UpToDate,
    Diff {
        zxid: i64,
    },
    Trunc {
        zxid: i64,
    },
    Snap {
        zxid: i64,
    },
    ObserverInfo {
        zxid: i64,
        info: LearnerInfo,
    },
    LeaderInfo {
        zxid: i64,
        protocol_version: i32,
    },
    /// `current_epoch` is −1 when the learner had already accepted this epoch.
    AckEpoch {
        zxid: i64,
        current_epoch: i32,
    },
    InformAndActivate {
        zxid: i64,
        leader_sid: i64,
        txn: Bytes,
    },
}

fn packet(kind: i32, zxid: i64, data: Option<Vec<u8>>) -> QuorumPacket {
    QuorumPacket {
        kind,
        zxid,
        data: data.map(Bytes::from),
        authinfo: Vec::new(),
    }
}

fn with_data(kind: i32, zxid: i64, data: &Bytes) -> QuorumPacket {
    QuorumPacket {
        kind,
        zxid,
        data: Some(data.clone()),
        authinfo: Vec::new(),
    }
}

impl ZabPacket {
    /// The QuorumPacket `type` of this packet.
    pub fn kind(&self) -> i32 {
        use ZabPacket::*;
        match self {
            Request { .. } => pkt::REQUEST,
            Proposal { .. } => pkt::PROPOSAL,
            Ack { .. } => pkt::ACK,
            Commit { .. } => pkt::COMMIT,
            Ping { .. } => pkt::PING,
            RevalidateRequest { .. } | RevalidateReply { .. } => pkt::REVALIDATE,
            Sync => pkt::SYNC,
            Inform { .. } => pkt::INFORM,
            CommitAndActivate { .. } => pkt::COMMITANDACTIVATE,
            NewLeader { .. } => pkt::NEWLEADER,
            FollowerInfo { .. } => pkt::FOLLOWERINFO,
            UpToDate => pkt::UPTODATE,
            Diff { .. } => pkt::DIFF,
            Trunc { .. } => pkt::TRUNC,
            Snap { .. } => pkt::SNAP,
            ObserverInfo { .. } => pkt::OBSERVERINFO,
            LeaderInfo { .. } => pkt::LEADERINFO,
            AckEpoch { .. } => pkt::ACKEPOCH,
            InformAndActivate { .. } => pkt::INFORMANDACTIVATE,
        }
    }

    /// Encodes into the QuorumPacket record Apache sends.
    pub fn to_wire(&self) -> QuorumPacket {
        use ZabPacket::*;
        let kind = self.kind();
        match self {
            Request {
                session_id,
                cxid,
                kind: op,
                request,
                authinfo,
            } => {
                let mut d = Vec::with_capacity(16 + request.len());
                d.put_i64(*session_id);
                d.put_i32(*cxid);
                d.put_i32(*op);
                d.put_slice(request);
                let mut p = packet(kind, -1, Some(d));
                p.authinfo = authinfo.clone();
                p
            }
            Proposal { zxid, txn } | Inform { zxid, txn } => with_data(kind, *zxid, txn),
            Ack { zxid } | Commit { zxid } | Diff { zxid } | Trunc { zxid } | Snap { zxid } => {
                packet(kind, *zxid, None)
            }
            Ping { zxid, sessions } => {
                let data = (!sessions.is_empty()).then(|| {
                    let mut d = Vec::with_capacity(12 * sessions.len());
                    for (id, to) in sessions {
                        d.put_i64(*id);
                        d.put_i32(*to);
                    }
                    d
                });
                packet(kind, *zxid, data)
            }
            RevalidateRequest {
                session_id,
                timeout,
            } => {
                let mut d = Vec::with_capacity(12);
                d.put_i64(*session_id);
                d.put_i32(*timeout);
                packet(kind, -1, Some(d))
            }
            RevalidateReply { session_id, valid } => {
                let mut d = Vec::with_capacity(9);
                d.put_i64(*session_id);
                d.put_u8(u8::from(*valid));
                packet(kind, -1, Some(d))
            }
            Sync => packet(kind, 0, None),
            UpToDate => packet(kind, -1, None),
            CommitAndActivate { zxid, leader_sid } => {
                packet(kind, *zxid, Some(leader_sid.to_be_bytes().to_vec()))
            }
            NewLeader { zxid, config } => with_data(kind, *zxid, config),
            FollowerInfo { zxid, info } | ObserverInfo { zxid, info } => {
                packet(kind, *zxid, Some(info.to_bytes()))
            }
            LeaderInfo {
                zxid,
                protocol_version,
            } => packet(kind, *zxid, Some(protocol_version.to_be_bytes().to_vec())),
            AckEpoch {
                zxid,
                current_epoch,
            } => packet(kind, *zxid, Some(current_epoch.to_be_bytes().to_vec())),
            InformAndActivate {
                zxid,
                leader_sid,
                txn,
            } => {
                let mut d = Vec::with_capacity(8 + txn.len());
                d.put_i64(*leader_sid);
                d.put_slice(txn);
                packet(kind, *zxid, Some(d))
            }
        }
    }

    /// Decodes a QuorumPacket received from the `dir` direction.
    pub fn from_wire(p: QuorumPacket, dir: Direction) -> Result<ZabPacket, QuorumError> {
        let kind = p.kind;
        let zxid = p.zxid;
        let data = p.data.unwrap_or_default();
        let need = |what: &'static str| -> Result<JuteReader, QuorumError> {
            if data.is_empty() {
                Err(QuorumError::MissingData { kind, what })
            } else {
                Ok(JuteReader::with_max_len(data.clone(), MAX_PACKET_DATA))
            }
        };
        Ok(match kind {
            pkt::REQUEST => {
                let mut r = need("request header")?;
                ZabPacket::Request {
                    session_id: r.read_i64("sessionId")?,
                    cxid: r.read_i32("cxid")?,
                    kind: r.read_i32("type")?,
                    request: r.take_rest(),
                    authinfo: p.authinfo,
                }
            }
            pkt::PROPOSAL => ZabPacket::Proposal { zxid, txn: data },
            pkt::INFORM => ZabPacket::Inform { zxid, txn: data },
            pkt::ACK => ZabPacket::Ack { zxid },
            pkt::COMMIT => ZabPacket::Commit { zxid },
            pkt::DIFF => ZabPacket::Diff { zxid },
            pkt::TRUNC => ZabPacket::Trunc { zxid },
            pkt::SNAP => ZabPacket::Snap { zxid },
            pkt::SYNC => ZabPacket::Sync,
            pkt::UPTODATE => ZabPacket::UpToDate,
            pkt::PING => {
                let mut sessions = Vec::new();
                if dir == Direction::ToLeader {
                    let mut r = JuteReader::with_max_len(data.clone(), MAX_PACKET_DATA);
                    while !r.is_empty() && sessions.len() < MAX_PING_SESSIONS {
                        sessions.push((r.read_i64("sessionId")?, r.read_i32("timeout")?));
                    }
                }
                ZabPacket::Ping { zxid, sessions }
            }
            pkt::REVALIDATE => {
                let mut r = need("revalidate")?;
                let session_id = r.read_i64("sessionId")?;
                match dir {
                    Direction::ToLeader => ZabPacket::RevalidateRequest {
                        session_id,
                        timeout: r.read_i32("timeout")?,
                    },
                    Direction::ToLearner => ZabPacket::RevalidateReply {
                        session_id,
                        valid: r.read_bool("valid")?,
                    },
                }
            }
            pkt::COMMITANDACTIVATE => ZabPacket::CommitAndActivate {
                zxid,
                leader_sid: need("leader sid")?.read_i64("leader sid")?,
            },
            pkt::NEWLEADER => ZabPacket::NewLeader { zxid, config: data },
            pkt::FOLLOWERINFO => ZabPacket::FollowerInfo {
                zxid,
                info: LearnerInfo::read_from(&mut need("LearnerInfo")?)?,
            },
            pkt::OBSERVERINFO => ZabPacket::ObserverInfo {
                zxid,
                info: LearnerInfo::read_from(&mut need("LearnerInfo")?)?,
            },
            pkt::LEADERINFO => ZabPacket::LeaderInfo {
                zxid,
                protocol_version: need("protocol version")?.read_i32("protocol version")?,
            },
            pkt::ACKEPOCH => ZabPacket::AckEpoch {
                zxid,
                current_epoch: need("current epoch")?.read_i32("current epoch")?,
            },
            pkt::INFORMANDACTIVATE => {
                let mut r = need("leader sid")?;
                ZabPacket::InformAndActivate {
                    zxid,
                    leader_sid: r.read_i64("leader sid")?,
                    txn: r.take_rest(),
                }
            }
            other => return Err(QuorumError::UnknownType(other)),
        })
    }

    /// Encodes as stream bytes (one jute QuorumPacket record).
    pub fn encode(&self) -> Vec<u8> {
        self.to_wire().to_bytes()
    }
}

/// Splits a quorum stream into packets. Feed bytes as they arrive; an incomplete trailing
/// record stays buffered until more bytes come.
#[derive(Debug, Default)]
pub struct QuorumStreamDecoder {
    buf: Vec<u8>,
}

impl QuorumStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete packet, `Ok(None)` if more bytes are needed. A bad length or an
    /// unknown type is an error: the stream cannot be resynchronised and must be closed.
    pub fn next_packet(&mut self, dir: Direction) -> Result<Option<ZabPacket>, QuorumError> {
        let mut r = JuteReader::with_max_len(Bytes::copy_from_slice(&self.buf), MAX_PACKET_DATA);
        let before = r.remaining();
        let rec = match QuorumPacket::read_from(&mut r) {
            Ok(rec) => rec,
            Err(JuteError::Eof(_)) => return self.incomplete(),
            // A vector count larger than what has arrived so far (limit = bytes buffered)
            // only means the record is still incomplete.
            Err(JuteError::BadLength { len, limit, .. })
                if limit != MAX_PACKET_DATA && len <= MAX_PACKET_DATA as i64 =>
            {
                return self.incomplete()
            }
            Err(e) => return Err(e.into()),
        };
        let used = before - r.remaining();
        self.buf.drain(..used);
        ZabPacket::from_wire(rec, dir).map(Some)
    }

    /// Waits for more bytes unless the buffered record is already larger than allowed.
    fn incomplete(&self) -> Result<Option<ZabPacket>, QuorumError> {
        if self.buf.len() > MAX_STREAM_RECORD {
            return Err(QuorumError::TooLarge(self.buf.len()));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sid: i64) -> LearnerInfo {
        LearnerInfo {
            serverid: sid,
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version: 0x1_0000_0000,
        }
    }

    fn samples() -> Vec<(ZabPacket, Direction)> {
        use Direction::*;
        vec![
            (
                ZabPacket::Request {
                    session_id: 7,
                    cxid: 3,
                    kind: 1,
                    request: Bytes::from_static(b"abc"),
                    authinfo: vec![Id::new("ip", "127.0.0.1")],
                },
                ToLeader,
            ),
            (
                ZabPacket::Proposal {
                    zxid: 0x1_0000_0001,
                    txn: Bytes::from_static(b"t"),
                },
                ToLearner,
            ),
            (ZabPacket::Ack { zxid: 5 }, ToLeader),
            (ZabPacket::Commit { zxid: 5 }, ToLearner),
            (
                ZabPacket::Ping {
                    zxid: 9,
                    sessions: vec![],
                },
                ToLearner,
            ),
            (
                ZabPacket::Ping {
                    zxid: 9,
                    sessions: vec![(1, 3000), (2, 4000)],
                },
                ToLeader,
            ),
            (
                ZabPacket::RevalidateRequest {
                    session_id: 4,
                    timeout: 30,
                },
                ToLeader,
            ),
            (
                ZabPacket::RevalidateReply {
                    session_id: 4,
                    valid: true,
                },
                ToLearner,
            ),
            (ZabPacket::Sync, ToLearner),
            (
                ZabPacket::Inform {
                    zxid: 6,
                    txn: Bytes::from_static(b"x"),
                },
                ToLearner,
            ),
            (
                ZabPacket::CommitAndActivate {
                    zxid: 6,
                    leader_sid: 2,
                },
                ToLearner,
            ),
            (
                ZabPacket::NewLeader {
                    zxid: 2 << 32,
                    config: Bytes::from_static(b"server.1=a"),
                },
                ToLearner,
            ),
            (
                ZabPacket::FollowerInfo {
                    zxid: 1 << 32,
                    info: info(3),
                },
                ToLeader,
            ),
            (ZabPacket::UpToDate, ToLearner),
            (ZabPacket::Diff { zxid: 1 }, ToLearner),
            (ZabPacket::Trunc { zxid: 2 }, ToLearner),
            (ZabPacket::Snap { zxid: 3 }, ToLearner),
            (
                ZabPacket::ObserverInfo {
                    zxid: 1 << 32,
                    info: info(4),
                },
                ToLeader,
            ),
            (
                ZabPacket::LeaderInfo {
                    zxid: 2 << 32,
                    protocol_version: ZAB_PROTOCOL_VERSION,
                },
                ToLearner,
            ),
            (
                ZabPacket::AckEpoch {
                    zxid: 0x1_0000_0004,
                    current_epoch: -1,
                },
                ToLeader,
            ),
            (
                ZabPacket::InformAndActivate {
                    zxid: 8,
                    leader_sid: 1,
                    txn: Bytes::from_static(b"yz"),
                },
                ToLearner,
            ),
        ]
    }

    #[test]
    fn every_packet_round_trips_through_a_stream() {
        let all = samples();
        let mut stream = Vec::new();
        for (p, _) in &all {
            stream.extend(p.encode());
        }
        let mut dec = QuorumStreamDecoder::new();
        let mut got = Vec::new();
        // Feed in awkward 5-byte chunks to exercise partial records.
        for chunk in stream.chunks(5) {
            dec.feed(chunk);
            loop {
                let dir = all.get(got.len()).map_or(Direction::ToLearner, |x| x.1);
                match dec.next_packet(dir).unwrap() {
                    Some(p) => got.push(p),
                    None => break,
                }
            }
        }
        let want: Vec<ZabPacket> = all.into_iter().map(|(p, _)| p).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn layouts_match_apache() {
        // LEADERINFO: type 17, zxid, buffer(4) = 0x10000, empty authinfo vector.
        let b = ZabPacket::LeaderInfo {
            zxid: 2 << 32,
            protocol_version: ZAB_PROTOCOL_VERSION,
        }
        .encode();
        assert_eq!(
            b,
            [
                &17i32.to_be_bytes()[..],
                &(2i64 << 32).to_be_bytes(),
                &4i32.to_be_bytes(),
                &0x10000i32.to_be_bytes(),
                &0i32.to_be_bytes()
            ]
            .concat()
        );
        // ACK carries a null buffer.
        let b = ZabPacket::Ack { zxid: 1 }.encode();
        assert_eq!(&b[12..16], &(-1i32).to_be_bytes());
        // FOLLOWERINFO data is a LearnerInfo record: sid, version, config version.
        let b = ZabPacket::FollowerInfo {
            zxid: 0,
            info: info(3),
        }
        .encode();
        assert_eq!(&b[12..16], &20i32.to_be_bytes());
        assert_eq!(&b[16..24], &3i64.to_be_bytes());
    }

    #[test]
    fn rejects_unknown_type_and_missing_data() {
        let p = packet(99, 0, None);
        assert_eq!(
            ZabPacket::from_wire(p, Direction::ToLeader),
            Err(QuorumError::UnknownType(99))
        );
        let p = packet(pkt::ACKEPOCH, 0, None);
        assert!(matches!(
            ZabPacket::from_wire(p, Direction::ToLeader),
            Err(QuorumError::MissingData { .. })
        ));
        let p = packet(pkt::REVALIDATE, -1, Some(vec![0, 1]));
        assert!(matches!(
            ZabPacket::from_wire(p, Direction::ToLeader),
            Err(QuorumError::Jute(_))
        ));
    }

    #[test]
    fn oversized_data_length_is_an_error_not_a_wait() {
        let mut b = Vec::new();
        b.put_i32(pkt::PROPOSAL);
        b.put_i64(1);
        b.put_i32(i32::MAX);
        let mut dec = QuorumStreamDecoder::new();
        dec.feed(&b);
        assert!(dec.next_packet(Direction::ToLearner).is_err());
    }
}
