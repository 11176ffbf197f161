//! Dynamic reconfiguration in a running ensemble: the leader preps and proposes a reconfig
//! (`quorum::reconfig::prepare_reconfig`), Zab commits it with both quorums, and every
//! server then activates the new membership (config files, election, quorum counting) and
//! checks whether it keeps its role: a server whose role or leader changed takes its new
//! role at once (no election, as Apache's `reconfigFlag`); a removed one looks for a leader.

use std::collections::BTreeSet;

use bytes::Bytes;
use tracing::{info, warn};

use super::{NextRole, Role};
use crate::auth::AuthInfo;
use crate::config::{QuorumConfig, Role as MemberRole};
use crate::proto::codes::{op, perms, ErrorCode};
use crate::proto::txn::{SetDataTxn, Txn, TxnBody};
use crate::quorum::reconfig::{self, ReconfigContext, ReconfigOp};
use crate::quorum::zab::{LearnerKind, NewMembers};
use crate::server::core::Core;
use crate::tree::CONFIG_NODE;

/// The config text a reconfig txn carries (its SetData of /zookeeper/config); `None` for
/// any other txn.
pub fn config_text_of(txn: &Txn) -> Option<Bytes> {
    match &txn.body {
        TxnBody::SetData(sd) if txn.hdr.kind == op::RECONFIG => {
            Some(sd.data.clone().unwrap_or_default())
        }
        _ => None,
    }
}

/// A membership as Zab counts it.
fn zab_members(config: &QuorumConfig, text: Bytes, leader_stays: bool) -> NewMembers {
    let ids = |role: MemberRole| -> BTreeSet<u64> {
        config
            .servers
            .values()
            .filter(|s| s.role == role)
            .map(|s| s.id)
            .collect()
    };
    NewMembers {
        voters: ids(MemberRole::Participant),
        observers: ids(MemberRole::Observer),
        version: config.version as i64,
        text,
        leader_stays,
    }
}

impl Core {
    /// The committed membership, as a `QuorumConfig`.
    fn committed_config(&self) -> Option<QuorumConfig> {
        let q = self.quorum.as_ref()?;
        Some(QuorumConfig {
            servers: q.servers.clone(),
            version: q.config_version,
        })
    }

    /// Leader: checks a reconfig request and builds its txn and the membership Zab needs.
    pub(in crate::server) fn prep_reconfig(
        &self,
        auth: &AuthInfo,
        body: Bytes,
        zxid: i64,
    ) -> Result<(SetDataTxn, NewMembers, QuorumConfig), ErrorCode> {
        let sc = &self.cfg.server_config;
        let (Role::Leader(l), Some(committed)) = (&self.role, self.committed_config()) else {
            return Err(reconfig::standalone_reply(sc.reconfig_enabled));
        };
        let op = ReconfigOp::decode(body).map_err(|_| ErrorCode::MarshallingError)?;
        let may_write_config = sc.skip_acl
            || self
                .tree
                .get_acl(CONFIG_NODE)
                .is_some_and(|(acl, _)| auth.check(&acl, perms::WRITE).is_ok());
        let last_seen = l.reconfig.clone().unwrap_or_else(|| committed.clone());
        let synced: BTreeSet<u64> = l.zab.synced();
        let ctx = ReconfigContext {
            reconfig_enabled: sc.reconfig_enabled,
            standalone_enabled: sc.standalone_enabled,
            multi_address_enabled: sc.multi_address_enabled,
            committed: &committed,
            last_seen: &last_seen,
            synced: &synced,
            may_write_config,
            zxid: zxid as u64,
        };
        let proposal = reconfig::prepare_reconfig(&op, &ctx).map_err(|e| {
            info!("reconfig refused: {e}");
            e.code()
        })?;
        let my_id = self.cfg.server_id;
        let my_addrs = committed
            .servers
            .get(&my_id)
            .map(|s| s.quorum_addrs.clone())
            .unwrap_or_default();
        let stays = reconfig::leader_stays(my_id, &my_addrs, &proposal.config.servers);
        let text = Bytes::from(proposal.text.clone().into_bytes());
        let members = zab_members(&proposal.config, text, stays);
        Ok((proposal.txn, members, proposal.config))
    }

    /// Leader: a reconfig was proposed; it is the last seen config until it commits, and
    /// `<zoo.cfg>.dynamic.next` holds it meanwhile, as Apache writes it.
    pub(in crate::server) fn note_reconfig_proposed(&mut self, config: QuorumConfig) {
        if let Some(path) = self.static_config_path() {
            if let Err(e) = reconfig::write_next_config(&path, &config) {
                warn!("cannot write the proposed config: {e}");
            }
        }
        if let Role::Leader(l) = &mut self.role {
            l.reconfig = Some(config);
        }
    }

    /// Learner: a reconfig proposal goes to `<zoo.cfg>.dynamic.next` while it is pending, as
    /// Apache's followers write it (the txn type sits at byte 28 of the txn header).
    pub(in crate::server) fn note_proposed_config(&self, txn: &Bytes) {
        let kind = txn
            .get(28..32)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_be_bytes);
        if kind != Some(op::RECONFIG) {
            return;
        }
        let Some(path) = self.static_config_path() else {
            return;
        };
        let Some(text) = Txn::decode(txn.clone())
            .ok()
            .as_ref()
            .and_then(config_text_of)
        else {
            return;
        };
        let multi = self.cfg.server_config.multi_address_enabled;
        if let Some(config) = QuorumConfig::parse_text(&text, multi) {
            if let Err(e) = reconfig::write_next_config(&path, &config) {
                warn!("cannot write the proposed config: {e}");
            }
        }
    }

    /// zoo.cfg, when this server was started from one (config files are rewritten only then).
    fn static_config_path(&self) -> Option<std::path::PathBuf> {
        let p = &self.cfg.server_config.source_path;
        (!p.as_os_str().is_empty()).then(|| p.clone())
    }

    /// A committed config text (a reconfig txn applied, or the tree after a sync): makes it
    /// the membership when it is newer than ours. Roles are checked by `on_reconfigured`.
    pub(in crate::server) fn adopt_config_text(&mut self, text: &[u8]) {
        let multi = self.cfg.server_config.multi_address_enabled;
        let Some(new) = QuorumConfig::parse_text(text, multi) else {
            warn!("ignoring a committed config that does not parse");
            return;
        };
        let Some(q) = self.quorum.as_mut() else {
            return;
        };
        if new.version <= q.config_version {
            return;
        }
        info!(
            "activating config version {:x} (was {:x}): {} servers",
            new.version,
            q.config_version,
            new.servers.len()
        );
        q.servers = new.servers.clone();
        q.config_version = new.version;
        q.config_text = Bytes::from(new.render().into_bytes());
        if let Some(updater) = &q.election {
            updater.set_config(new.servers.clone(), new.version);
        }
        let my_id = q.my_id;
        if let Role::Leader(l) = &mut self.role {
            l.reconfig = None;
            l.zab
                .adopt_members(&zab_members(&new, q.config_text.clone(), true));
        }
        if let Some(path) = self.static_config_path() {
            if let Err(e) = reconfig::write_activated_config(&path, &new, my_id, new.version) {
                warn!("cannot write the activated config: {e}");
            }
        }
    }

    /// After a sync: the tree's /zookeeper/config is the committed config.
    pub(in crate::server) fn adopt_config_from_tree(&mut self) {
        let data = self
            .tree
            .get_data(CONFIG_NODE)
            .and_then(|(d, _)| d)
            .unwrap_or_default();
        if !data.is_empty() {
            self.adopt_config_text(&data);
        }
    }

    /// What this server becomes under the current config when `leader` leads it.
    pub(in crate::server) fn role_under(&self, leader: u64) -> NextRole {
        let Some(q) = self.quorum.as_ref() else {
            return NextRole::Look;
        };
        match reconfig::role_after(q.my_id, &q.servers) {
            None => NextRole::Look,
            Some(_) if leader == q.my_id => NextRole::Lead,
            Some(MemberRole::Observer) => NextRole::Follow(leader, LearnerKind::Observer),
            Some(MemberRole::Participant) => NextRole::Follow(leader, LearnerKind::Follower),
        }
    }

    /// A reconfig committed and was applied at a learner: does it keep its role? If not, it
    /// takes its new one at once (removed servers look for a leader).
    pub(in crate::server) fn on_reconfigured(&mut self, zxid: i64, leader: u64) {
        // Zab stepped the leader down itself when another server leads the new config.
        let Role::Learner(l) = &self.role else {
            return;
        };
        let current = NextRole::Follow(l.leader_sid, l.kind);
        let next = self.role_under(leader);
        info!(
            "reconfig 0x{zxid:x} committed: leader {leader}, this server {}",
            if next == current {
                "keeps its role".to_string()
            } else {
                format!("goes on as {next:?}")
            }
        );
        if next != current {
            self.end_role_then("reconfigured", next);
        }
    }
}
