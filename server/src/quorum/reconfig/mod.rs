//! Dynamic reconfiguration (ZooKeeper 3.5+ `reconfig`), the pure parts the leader, the
//! learners and the operator tools build on:
//!
//! - [`request`]: checks a reconfig request against the current membership exactly as
//!   Apache's PrepRequestProcessor does and yields the proposed membership, its config text
//!   and the SetDataTxn on /zookeeper/config;
//! - [`commit`]: when a reconfig may commit (a quorum of the old AND of the new config),
//!   who leads afterwards, and what each server becomes;
//! - [`files`]: `zoo.cfg.dynamic.<hex version>`, `.dynamic.next` and the static file
//!   rewrite, written atomically as QuorumPeerConfig writes them;
//! - [`cli`]: zkCli's `reconfig` options and a library call that runs one through the client.

pub mod cli;
pub mod commit;
pub mod files;
pub mod request;

pub use commit::{
    commit_ready, designated_leader, leader_stays, quorum_synced, role_after, successor,
};
pub use files::{
    backup_static_config, dynamic_config_path, edit_static_config, next_config_path,
    read_dynamic_config, read_next_config, remove_next_config, render_dynamic_file,
    write_activated_config, write_next_config, ConfigFileError,
};
pub use request::{
    prepare_reconfig, standalone_reply, ReconfigContext, ReconfigError, ReconfigOp,
    ReconfigProposal,
};
