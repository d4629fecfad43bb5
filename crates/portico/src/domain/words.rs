//! Counts in words, as pages and messages put them.

/// "1 question", "3 questions".
pub fn plural<N: std::fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    if n == N::from(1) {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "3 new messages", or "more than 1000 new messages" when older ones
/// than those counted may be unread too.
pub fn new_messages(n: i64, more: bool) -> String {
    if more {
        format!("more than {n} new messages")
    } else {
        plural(n, "new message", "new messages")
    }
}

/// An unread count on a badge: "12", or "1000+" when older ones than
/// those counted are unread too.
pub fn unread_badge(n: i64, more: bool) -> String {
    if more { format!("{n}+") } else { n.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_words() {
        assert_eq!(plural(1, "question", "questions"), "1 question");
        assert_eq!(plural(0usize as u8, "question", "questions"), "0 questions");
        assert_eq!(new_messages(1, false), "1 new message");
        assert_eq!(new_messages(12, false), "12 new messages");
        assert_eq!(new_messages(1000, true), "more than 1000 new messages");
        assert_eq!(unread_badge(12, false), "12");
        assert_eq!(unread_badge(1000, true), "1000+");
    }
}
