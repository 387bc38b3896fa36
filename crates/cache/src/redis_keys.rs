//! Names and addresses of the Redis level that need no Redis client: the key prefix check and
//! URL redaction (used for messages and checks whether or not the `redis` feature is on).

/// Longest accepted Redis key prefix (`cache.redis_prefix`), in bytes.
pub const MAX_PREFIX_LEN: usize = 64;

/// Checks a Redis key prefix: 1 to [`MAX_PREFIX_LEN`] bytes of ASCII letters, digits and
/// `_ - . : /`. Glob metacharacters (`* ? [ ] \`), whitespace and control characters are
/// refused, and so is the empty prefix, which would make `clear` scan the whole database.
///
/// ```
/// use femscale_cache::validate_redis_prefix;
/// assert!(validate_redis_prefix("femscale:").is_ok());
/// assert!(validate_redis_prefix("team-a/fem.v2:").is_ok());
/// assert!(validate_redis_prefix("").is_err());
/// assert!(validate_redis_prefix("fem*").is_err());
/// ```
///
/// # Errors
/// Why the prefix is refused.
pub fn validate_redis_prefix(prefix: &str) -> std::result::Result<(), String> {
    if prefix.is_empty() {
        return Err(
            "must not be empty: an empty prefix would make `cache clear` scan every key of the \
             database (use e.g. `femscale:`)"
                .into(),
        );
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(format!(
            "is {} bytes long; at most {MAX_PREFIX_LEN} are allowed",
            prefix.len()
        ));
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/')))
    {
        return Err(format!(
            "contains {c:?}; allowed are ASCII letters, digits and `_ - . : /` \
             (no glob characters `* ? [ ] \\`, spaces or control characters)"
        ));
    }
    Ok(())
}

/// `url` with the password (if any) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        "***".to_string()
    };
    format!("{}{masked}{}", &url[..scheme_end + 3], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_validated() {
        for good in [
            "femscale:",
            "a",
            "team-a/fem.v2:",
            "F_1",
            &"x".repeat(MAX_PREFIX_LEN),
        ] {
            assert_eq!(validate_redis_prefix(good), Ok(()), "{good}");
        }
        let long = "x".repeat(MAX_PREFIX_LEN + 1);
        for bad in [
            "", "*", "fem*", "fem?", "f[1]", "a]", "a\\b", "a b", "tab\t", "nl\n", "é:", &long,
        ] {
            let reason = validate_redis_prefix(bad).unwrap_err();
            assert!(!reason.is_empty(), "{bad:?}");
        }
        assert!(validate_redis_prefix("").unwrap_err().contains("empty"));
        assert!(validate_redis_prefix(&long).unwrap_err().contains("64"));
        assert!(validate_redis_prefix("a*").unwrap_err().contains("'*'"));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(redact("redis://:secret@host:1/"), "redis://:***@host:1/");
        assert_eq!(
            redact("redis://user:secret@host/"),
            "redis://user:***@host/"
        );
        assert_eq!(redact("redis://token@host/"), "redis://***@host/");
    }
}
