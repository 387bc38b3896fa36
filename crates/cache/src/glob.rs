//! Glob matching for [`Cache::invalidate`](femscale_core::cache::Cache::invalidate) patterns.

/// Whether `text` matches the glob `pattern` as a whole: `*` matches any run of characters
/// (including none), `?` exactly one character, every other character itself. Works on Unicode
/// scalar values and runs in `O(pattern × text)` time at worst, without recursion.
///
/// ```
/// use femscale_cache::glob_match;
/// assert!(glob_match("system_*", "system_ab12"));
/// assert!(glob_match("s?stem_*", "system_"));
/// assert!(!glob_match("solution_*", "system_ab12"));
/// ```
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position of the last `*` seen and the text position it was tried against.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn literal_patterns_match_exactly() {
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
        assert!(!glob_match("a", ""));
        assert!(glob_match("system_ab", "system_ab"));
        assert!(!glob_match("system_ab", "system_abc"));
        assert!(!glob_match("system_abc", "system_ab"));
    }

    #[test]
    fn star_matches_any_run() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("**", "x"));
        assert!(glob_match("system_*", "system_"));
        assert!(glob_match("system_*", "system_0123"));
        assert!(!glob_match("system_*", "solution_0123"));
        assert!(glob_match("*_0123", "system_0123"));
        assert!(!glob_match("*_0123", "system_01234"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(glob_match("*a*a*a*", "banana a"));
        assert!(!glob_match("*a*a*a*a*", "banana"));
        // Backtracking: the first `b` is not the right one.
        assert!(glob_match("*bc", "abbbc"));
        assert!(glob_match("a*abc", "aabababc"));
    }

    #[test]
    fn question_mark_matches_one_char() {
        assert!(glob_match("?", "a"));
        assert!(!glob_match("?", ""));
        assert!(!glob_match("?", "ab"));
        assert!(glob_match("sys?em_?", "system_1"));
        assert!(!glob_match("sys?em_?", "system_12"));
        assert!(glob_match("?*", "x"));
        assert!(!glob_match("?*", ""));
        assert!(glob_match("*?", "xy"));
        // One Unicode scalar, not one byte.
        assert!(glob_match("m?sh", "mésh"));
    }

    #[test]
    fn special_chars_are_literal() {
        assert!(glob_match("a.b", "a.b"));
        assert!(!glob_match("a.b", "axb"));
        assert!(glob_match("[x]", "[x]"));
        assert!(!glob_match("[x]", "x"));
    }
}
