//! Which four-letter words may run (`4lw.commands.whitelist`).

use std::collections::BTreeSet;

/// The enabled 4lw commands. Apache (3.5.3+) enables only `srvr` when the whitelist is
/// unset, always adds `srvr` (zkServer.sh needs it) and adds `isro` in read-only mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    /// `*`: every known command.
    All,
    /// Exactly these command names.
    Only(BTreeSet<String>),
}

impl Default for FourLetterWhitelist {
    fn default() -> Self {
        FourLetterWhitelist::Only(BTreeSet::from(["srvr".to_string()]))
    }
}

impl FourLetterWhitelist {
    /// Builds the set from the property value the way `FourLetterCommands.isEnabled` does.
    pub fn from_property(value: Option<&str>, read_only_mode: bool) -> Self {
        let mut set = BTreeSet::new();
        if let Some(list) = value {
            for cmd in list.split(',').map(str::trim) {
                if cmd == "*" {
                    return FourLetterWhitelist::All;
                }
                if !cmd.is_empty() {
                    set.insert(cmd.to_string());
                }
            }
        }
        if read_only_mode {
            set.insert("isro".to_string());
        }
        set.insert("srvr".to_string());
        FourLetterWhitelist::Only(set)
    }

    /// Whether the command named `name` may run.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            FourLetterWhitelist::All => true,
            FourLetterWhitelist::Only(set) => set.contains(name),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_is_srvr_only() {
        let w = FourLetterWhitelist::default();
        assert!(w.allows("srvr"));
        assert!(!w.allows("ruok"));
        assert_eq!(FourLetterWhitelist::from_property(None, false), w);
    }

    #[test]
    fn list_star_and_readonly() {
        let w = FourLetterWhitelist::from_property(Some(" ruok, mntr ,,"), false);
        assert!(w.allows("ruok") && w.allows("mntr") && w.allows("srvr"));
        assert!(!w.allows("isro"));
        let w = FourLetterWhitelist::from_property(Some("ruok"), true);
        assert!(w.allows("isro"));
        let w = FourLetterWhitelist::from_property(Some("ruok, *"), false);
        assert_eq!(w, FourLetterWhitelist::All);
        assert!(w.allows("dump"));
    }
}
