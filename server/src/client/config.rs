//! Client configuration and chroot path mapping.

use std::time::Duration;

use super::error::ClientError;
use crate::proto::jute::DEFAULT_MAX_BUFFER;

/// How to reach the ensemble and what session to ask for.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// "host:port" entries, tried in order (and round-robin on reconnect).
    pub hosts: Vec<String>,
    /// Requested session timeout; the server clamps it and the negotiated value governs pings.
    pub session_timeout: Duration,
    /// Accept a server in read-only mode (sent as the trailing ConnectRequest byte).
    pub read_only: bool,
    /// A prefix added to every request path and removed from returned paths (e.g. "/app").
    pub chroot: Option<String>,
    /// After a connection loss, reconnect to the next host with the same session and re-register
    /// watches and auth. When false, the first loss is final (state `Disconnected`).
    pub auto_reconnect: bool,
    /// Client-side bound on each request's wait; `None` waits until the connection fails.
    pub request_timeout: Option<Duration>,
    /// How long [`crate::client::Client::connect`] keeps trying the hosts (round-robin, with
    /// backoff) before giving up; a server that is still starting or electing may refuse.
    pub connect_timeout: Duration,
    /// Largest incoming frame accepted (Java client: `jute.maxbuffer`, default 0xfffff).
    pub max_frame_len: usize,
}

impl ClientConfig {
    /// A config for the given "host:port" list with Java-client-like defaults.
    pub fn new<S: Into<String>>(hosts: impl IntoIterator<Item = S>) -> Self {
        ClientConfig {
            hosts: hosts.into_iter().map(Into::into).collect(),
            session_timeout: Duration::from_secs(10),
            read_only: false,
            chroot: None,
            auto_reconnect: true,
            request_timeout: None,
            connect_timeout: Duration::from_secs(10),
            max_frame_len: DEFAULT_MAX_BUFFER,
        }
    }

    /// Parses a Java-style connect string: "h1:p1,h2:p2/optional/chroot".
    pub fn from_connect_string(s: &str) -> Result<Self, ClientError> {
        let (hosts, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let hosts: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect();
        let mut cfg = ClientConfig::new(hosts);
        cfg.chroot = chroot.map(str::to_string);
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn with_session_timeout(mut self, t: Duration) -> Self {
        self.session_timeout = t;
        self
    }

    pub fn with_chroot(mut self, chroot: &str) -> Self {
        self.chroot = Some(chroot.to_string());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ClientError> {
        if self.hosts.is_empty() {
            return Err(ClientError::Config("no hosts given".into()));
        }
        if self.session_timeout.as_millis() > i32::MAX as u128 {
            return Err(ClientError::Config("session timeout too large".into()));
        }
        Chroot::new(self.chroot.as_deref())?;
        Ok(())
    }
}

/// Maps between client paths and server paths under an optional chroot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chroot(Option<String>);

impl Chroot {
    /// "/" and "" mean no chroot; otherwise the prefix must be absolute without a trailing "/".
    pub fn new(prefix: Option<&str>) -> Result<Chroot, ClientError> {
        match prefix {
            None | Some("") | Some("/") => Ok(Chroot(None)),
            Some(p) if !p.starts_with('/') || p.ends_with('/') || p.contains("//") => Err(
                ClientError::Config(format!("invalid chroot {p:?}: must be an absolute path")),
            ),
            Some(p) => Ok(Chroot(Some(p.to_string()))),
        }
    }

    /// The path the server sees for a client path.
    pub fn to_server(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_string(),
            Some(root) if path == "/" => root.clone(),
            Some(root) => format!("{root}{path}"),
        }
    }

    /// The path the client sees for a server path; paths outside the chroot are left as they are.
    pub fn to_client(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_string(),
            Some(root) => match path.strip_prefix(root.as_str()) {
                Some("") => "/".to_string(),
                Some(rest) if rest.starts_with('/') => rest.to_string(),
                _ => path.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chroot_maps_both_ways() {
        let c = Chroot::new(Some("/app")).expect("valid");
        assert_eq!(c.to_server("/"), "/app");
        assert_eq!(c.to_server("/x/y"), "/app/x/y");
        assert_eq!(c.to_client("/app"), "/");
        assert_eq!(c.to_client("/app/x"), "/x");
        assert_eq!(c.to_client("/apple"), "/apple");
        assert_eq!(c.to_client("/other"), "/other");
        let none = Chroot::new(Some("/")).expect("valid");
        assert_eq!(none.to_server("/a"), "/a");
        assert!(Chroot::new(Some("app")).is_err());
        assert!(Chroot::new(Some("/app/")).is_err());
    }

    #[test]
    fn connect_string_parses_hosts_and_chroot() {
        let c = ClientConfig::from_connect_string("a:1, b:2/x/y").expect("valid");
        assert_eq!(c.hosts, vec!["a:1", "b:2"]);
        assert_eq!(c.chroot.as_deref(), Some("/x/y"));
        assert!(ClientConfig::from_connect_string("/x").is_err());
    }
}
