//! Client protocol records (zookeeper.jute), field for field.

use bytes::Bytes;

use crate::jute_record;

jute_record! {
    /// An identity: scheme plus id (`world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`).
    pub struct Id { pub scheme: String, pub id: String }
}

jute_record! {
    pub struct Acl { pub perms: i32, pub id: Id }
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.to_string(),
            id: id.to_string(),
        }
    }
}

impl Acl {
    pub fn new(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    /// `ZooDefs.Ids.OPEN_ACL_UNSAFE`.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(super::codes::perms::ALL, "world", "anyone")]
    }

    /// `ZooDefs.Ids.READ_ACL_UNSAFE`.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(super::codes::perms::READ, "world", "anyone")]
    }
}

jute_record! {
    /// The 68-byte Stat clients see.
    pub struct Stat {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub data_length: i32,
        pub num_children: i32,
        pub pzxid: i64,
    }
}

jute_record! {
    /// The 60-byte stat stored in snapshots; `cversion` counts child creations only.
    pub struct StatPersisted {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub pzxid: i64,
    }
}

jute_record! {
    pub struct ConnectRequestFixed {
        pub protocol_version: i32,
        pub last_zxid_seen: i64,
        pub time_out: i32,
        pub session_id: i64,
        pub passwd: Option<Bytes>,
    }
}

jute_record! {
    pub struct ConnectResponseFixed {
        pub protocol_version: i32,
        pub time_out: i32,
        pub session_id: i64,
        pub passwd: Option<Bytes>,
    }
}

jute_record! { pub struct RequestHeader { pub xid: i32, pub op: i32 } }
jute_record! { pub struct ReplyHeader { pub xid: i32, pub zxid: i64, pub err: i32 } }

jute_record! {
    pub struct CreateRequest { pub path: String, pub data: Option<Bytes>, pub acl: Vec<Acl>, pub flags: i32 }
}
jute_record! {
    pub struct CreateTtlRequest { pub path: String, pub data: Option<Bytes>, pub acl: Vec<Acl>, pub flags: i32, pub ttl: i64 }
}
jute_record! { pub struct CreateResponse { pub path: String } }
jute_record! { pub struct Create2Response { pub path: String, pub stat: Stat } }
jute_record! { pub struct DeleteRequest { pub path: String, pub version: i32 } }
jute_record! {
/// ExistsRequest, GetDataRequest, GetChildrenRequest and GetChildren2Request share this layout.
pub struct PathWatchRequest { pub path: String, pub watch: bool } }
jute_record! {
/// ExistsResponse, SetDataResponse and SetACLResponse share this layout.
pub struct StatResponse { pub stat: Stat } }
jute_record! { pub struct GetDataResponse { pub data: Option<Bytes>, pub stat: Stat } }
jute_record! { pub struct SetDataRequest { pub path: String, pub data: Option<Bytes>, pub version: i32 } }
jute_record! {
/// GetACLRequest, SyncRequest/Response, GetEphemeralsRequest, GetAllChildrenNumberRequest.
pub struct PathRequest { pub path: String } }
jute_record! { pub struct GetAclResponse { pub acl: Vec<Acl>, pub stat: Stat } }
jute_record! { pub struct SetAclRequest { pub path: String, pub acl: Vec<Acl>, pub version: i32 } }
jute_record! { pub struct GetChildrenResponse { pub children: Vec<String> } }
jute_record! { pub struct GetChildren2Response { pub children: Vec<String>, pub stat: Stat } }
jute_record! { pub struct CheckVersionRequest { pub path: String, pub version: i32 } }
jute_record! {
    pub struct ReconfigRequest { pub joining_servers: String, pub leaving_servers: String, pub new_members: String, pub cur_config_id: i64 }
}
jute_record! {
/// CheckWatchesRequest and RemoveWatchesRequest.
pub struct WatchTypeRequest { pub path: String, pub kind: i32 } }
jute_record! { pub struct AddWatchRequest { pub path: String, pub mode: i32 } }
jute_record! {
    pub struct SetWatches { pub relative_zxid: i64, pub data_watches: Vec<String>, pub exist_watches: Vec<String>, pub child_watches: Vec<String> }
}
jute_record! {
    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }
}
jute_record! { pub struct AuthPacket { pub kind: i32, pub scheme: String, pub auth: Option<Bytes> } }
jute_record! { pub struct GetEphemeralsResponse { pub ephemerals: Vec<String> } }
jute_record! { pub struct GetAllChildrenNumberResponse { pub total_number: i32 } }
jute_record! { pub struct ClientInfo { pub auth_scheme: String, pub user: String } }
jute_record! { pub struct WhoAmIResponse { pub client_info: Vec<ClientInfo> } }
jute_record! { pub struct WatcherEvent { pub kind: i32, pub state: i32, pub path: String } }
jute_record! { pub struct ErrorResponse { pub err: i32 } }
jute_record! { pub struct MultiHeader { pub op: i32, pub done: bool, pub err: i32 } }
jute_record! { pub struct FileHeader { pub magic: i32, pub version: i32, pub dbid: i64 } }
jute_record! { pub struct LearnerInfo { pub serverid: i64, pub protocol_version: i32, pub config_version: i64 } }
jute_record! {
    pub struct QuorumPacket { pub kind: i32, pub zxid: i64, pub data: Option<Bytes>, pub authinfo: Vec<Id> }
}
