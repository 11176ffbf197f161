//! Authentication schemes and ACL checks (Apache's `ip` and `digest` providers, `world`,
//! `auth`, and the super user).

mod ip;

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::proto::codes::perms;
use crate::proto::records::{Acl, Id};
use crate::proto::ErrorCode;

pub use ip::ip_matches;

/// The identities a connection holds: `ip:<addr>` from the socket, plus whatever addAuth added.
#[derive(Debug, Clone, Default)]
pub struct AuthInfo {
    pub ids: Vec<Id>,
}

/// The digest id for "user:password": `user:` + base64(sha1("user:password")).
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{}:{}",
        user,
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

impl AuthInfo {
    pub fn for_address(ip: std::net::IpAddr) -> Self {
        AuthInfo {
            ids: vec![Id::new("ip", &ip.to_string())],
        }
    }

    pub fn is_super(&self) -> bool {
        self.ids.iter().any(|i| i.scheme == "super")
    }

    fn add(&mut self, id: Id) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }

    /// Handles an auth packet. `super_digest` is the configured `super:<b64>` id, if any.
    pub fn add_auth(
        &mut self,
        scheme: &str,
        auth: &[u8],
        remote_ip: std::net::IpAddr,
        super_digest: Option<&str>,
    ) -> Result<(), ErrorCode> {
        match scheme {
            "digest" => {
                let s = String::from_utf8_lossy(auth);
                let id = digest_id(&s);
                if super_digest == Some(id.as_str()) {
                    self.add(Id::new("super", ""));
                }
                self.add(Id::new("digest", &id));
                Ok(())
            }
            "ip" => {
                self.add(Id::new("ip", &remote_ip.to_string()));
                Ok(())
            }
            _ => Err(ErrorCode::AuthFailed),
        }
    }

    /// (scheme, user) pairs for whoAmI, as the providers' `getUserName` report them.
    pub fn who_am_i(&self) -> Vec<(String, String)> {
        self.ids
            .iter()
            .map(|id| {
                let user = match id.scheme.as_str() {
                    "digest" => id.id.split(':').next().unwrap_or("").to_string(),
                    _ => id.id.clone(),
                };
                (id.scheme.clone(), user)
            })
            .collect()
    }

    /// Does one of our ids satisfy an ACL entry's id?
    fn matches(&self, acl_id: &Id) -> bool {
        if acl_id.scheme == "world" && acl_id.id == "anyone" {
            return true;
        }
        self.ids.iter().any(|mine| {
            mine.scheme == acl_id.scheme
                && match mine.scheme.as_str() {
                    "ip" => ip_matches(&mine.id, &acl_id.id),
                    _ => mine.id == acl_id.id,
                }
        })
    }

    /// Apache's checkACL: allowed if the list is empty, we are super, or an entry with one of
    /// the `needed` bits names one of our ids.
    pub fn check(&self, acl: &[Acl], needed: i32) -> Result<(), ErrorCode> {
        if acl.is_empty() || self.is_super() {
            return Ok(());
        }
        if acl
            .iter()
            .any(|a| a.perms & needed != 0 && self.matches(&a.id))
        {
            Ok(())
        } else {
            Err(ErrorCode::NoAuth)
        }
    }

    /// Apache's fixupACL: dedups, expands `auth` into our authenticated ids, validates the rest.
    pub fn fixup_acl(&self, acl: &[Acl]) -> Result<Vec<Acl>, ErrorCode> {
        let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
        let mut push = |a: Acl| {
            if !out.contains(&a) {
                out.push(a);
            }
        };
        if acl.is_empty() {
            return Err(ErrorCode::InvalidAcl);
        }
        for a in acl {
            if a.perms & !perms::ALL != 0 && a.perms != perms::ALL {
                // Unknown permission bits are kept by Apache; nothing to do.
            }
            match a.id.scheme.as_str() {
                "world" if a.id.id == "anyone" => push(a.clone()),
                "auth" => {
                    let mut any = false;
                    for id in &self.ids {
                        // Only providers that authenticate a user count (digest, not ip).
                        if id.scheme == "digest" {
                            push(Acl {
                                perms: a.perms,
                                id: id.clone(),
                            });
                            any = true;
                        }
                    }
                    if !any {
                        return Err(ErrorCode::InvalidAcl);
                    }
                }
                "digest" if a.id.id.contains(':') => push(a.clone()),
                "ip" if ip::valid_ip_acl(&a.id.id) => push(a.clone()),
                _ => return Err(ErrorCode::InvalidAcl),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn local() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn digest_matches_apache() {
        // DigestAuthenticationProvider.generateDigest("super:test")
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn acl_checks() {
        let mut a = AuthInfo::for_address(local());
        let acl = vec![Acl::new(perms::READ, "digest", &digest_id("u:pw"))];
        assert_eq!(a.check(&acl, perms::READ), Err(ErrorCode::NoAuth));
        a.add_auth("digest", b"u:pw", local(), None).unwrap();
        assert_eq!(a.check(&acl, perms::READ), Ok(()));
        assert_eq!(a.check(&acl, perms::WRITE), Err(ErrorCode::NoAuth));
        assert_eq!(a.check(&[], perms::WRITE), Ok(()));
        let ipacl = vec![Acl::new(perms::ALL, "ip", "127.0.0.0/8")];
        assert_eq!(a.check(&ipacl, perms::DELETE), Ok(()));
        assert_eq!(
            a.add_auth("kerberos", b"x", local(), None),
            Err(ErrorCode::AuthFailed)
        );
    }

    #[test]
    fn super_digest_grants_everything() {
        let mut a = AuthInfo::for_address(local());
        let sup = digest_id("super:test");
        a.add_auth("digest", b"super:test", local(), Some(&sup))
            .unwrap();
        let acl = vec![Acl::new(perms::READ, "digest", "other:x")];
        assert_eq!(a.check(&acl, perms::ADMIN), Ok(()));
    }

    #[test]
    fn fixup_expands_auth_and_rejects_bad_ids() {
        let mut a = AuthInfo::for_address(local());
        let auth_acl = vec![Acl::new(perms::ALL, "auth", "")];
        assert_eq!(a.fixup_acl(&auth_acl), Err(ErrorCode::InvalidAcl));
        a.add_auth("digest", b"u:pw", local(), None).unwrap();
        let fixed = a.fixup_acl(&auth_acl).unwrap();
        assert_eq!(
            fixed,
            vec![Acl::new(perms::ALL, "digest", &digest_id("u:pw"))]
        );
        assert_eq!(a.fixup_acl(&[]), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            a.fixup_acl(&[Acl::new(1, "world", "someone")]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            a.fixup_acl(&[Acl::new(1, "ip", "300.1.1.1")]),
            Err(ErrorCode::InvalidAcl)
        );
        let dup = vec![
            Acl::new(1, "world", "anyone"),
            Acl::new(1, "world", "anyone"),
        ];
        assert_eq!(a.fixup_acl(&dup).unwrap().len(), 1);
    }
}
