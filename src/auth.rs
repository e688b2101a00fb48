//! Client credentials: ActiveMQ's `simpleAuthenticationPlugin` as `[[user]]` entries in
//! `cluster.toml`. With no users every client is let in (ActiveMQ's default); with users,
//! STOMP `CONNECT` (`login`/`passcode`) and OpenWire `ConnectionInfo` (`userName`/
//! `password`) must name one of them, and a wrong or missing password gets ActiveMQ's
//! "User name [...] or password is invalid." and a closed connection. Passwords are
//! compared in constant time. The web consoles keep their own `[console]` login.

use crate::config::User;

/// Why a client was refused; `Display` is the error text it gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("User name [{0}] or password is invalid.")]
    Invalid(String),
}

/// Who a connection is, once authenticated (`None`: anonymous, allowed when no users are set).
pub fn authenticate(users: &[User], login: Option<&str>, passcode: Option<&str>) -> Result<Option<String>, AuthError> {
    if users.is_empty() {
        return Ok(login.filter(|l| !l.is_empty()).map(str::to_owned));
    }
    let login = login.unwrap_or("");
    let passcode = passcode.unwrap_or("");
    // Compare against every user, so the time taken does not tell which names exist.
    let mut found = false;
    for u in users {
        let name_ok = constant_time_eq(u.username.as_bytes(), login.as_bytes());
        let pass_ok = constant_time_eq(u.password.as_bytes(), passcode.as_bytes());
        found |= name_ok & pass_ok;
    }
    if found { Ok(Some(login.to_owned())) } else { Err(AuthError::Invalid(login.chars().take(128).collect())) }
}

/// Equal length and bytes, without returning early on the first differing byte (only the
/// length can be told from the time taken). Also used by the consoles' BASIC auth.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<User> {
        vec![User { username: "system".into(), password: "manager".into(), groups: "admins".into() }]
    }

    #[test]
    fn no_users_lets_everyone_in() {
        assert_eq!(authenticate(&[], None, None), Ok(None));
        assert_eq!(authenticate(&[], Some("bob"), Some("x")), Ok(Some("bob".into())));
    }

    #[test]
    fn users_must_match() {
        assert_eq!(authenticate(&users(), Some("system"), Some("manager")), Ok(Some("system".into())));
        assert!(authenticate(&users(), Some("system"), Some("wrong")).is_err());
        assert!(authenticate(&users(), Some("nobody"), Some("manager")).is_err());
        assert!(authenticate(&users(), None, None).is_err());
        assert!(authenticate(&users(), Some("system"), Some("manager2")).is_err());
        let e = authenticate(&users(), Some("nobody"), Some("wrong")).unwrap_err();
        assert_eq!(e.to_string(), "User name [nobody] or password is invalid.");
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
