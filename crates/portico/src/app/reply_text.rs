//! X11: what of a reply e-mail is the reply. Plain functions, no I/O:
//! the quoted history ("On … wrote:", `>` lines, Outlook's header block),
//! the signature (`-- `) and the phone's footer are taken out; automatic
//! replies are recognised from their headers and subject.

/// The reply itself, without what it quotes or its signature.
pub fn strip_reply(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        if starts_quote(trimmed, next) || is_signature(line) {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        kept.push(line.trim_end());
    }
    // A phone's "Sent from my iPhone" at the end is not part of the reply.
    while let Some(last) = kept.last() {
        let t = last.trim();
        if t.is_empty() || is_device_footer(t) {
            kept.pop();
        } else {
            break;
        }
    }
    while kept.first().is_some_and(|l| l.trim().is_empty()) {
        kept.remove(0);
    }
    kept.join("\n")
}

/// "Sent from my iPhone", "Sent from my Galaxy" and the like.
fn is_device_footer(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.starts_with("sent from my ")
        && lower.split_whitespace().count() <= 6
        && [
            "iphone",
            "ipad",
            "android",
            "samsung",
            "galaxy",
            "phone",
            "mobile",
            "blackberry",
        ]
        .iter()
        .any(|d| lower.contains(d))
}

/// The first line of a quoted history: "On … wrote:" (on one or two
/// lines), Outlook's "-----Original Message-----" or its rule, or a
/// "From:" line followed by "Sent:"/"Date:".
fn starts_quote(line: &str, next: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    if lower.starts_with("on ")
        && (lower.ends_with("wrote:") || next.to_ascii_lowercase().ends_with("wrote:"))
    {
        return true;
    }
    if lower.starts_with("-----original message-----") || lower.starts_with("________________") {
        return true;
    }
    let next_lower = next.to_ascii_lowercase();
    lower.starts_with("from:")
        && (next_lower.starts_with("sent:")
            || next_lower.starts_with("date:")
            || next_lower.starts_with("to:"))
}

/// The signature delimiter of RFC 3676 (`-- `), and its trimmed form.
fn is_signature(line: &str) -> bool {
    line == "-- " || line == "--"
}

/// Subjects that mark an automatic answer, in lower case.
const AUTO_SUBJECTS: &[&str] = &[
    "out of office",
    "out-of-office",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "away from the office",
    "abwesenheitsnotiz",
    "réponse automatique",
];

/// Whether an e-mail with these headers is an automatic reply, never to
/// be posted: `Auto-Submitted` other than `no` (RFC 3834), `Precedence:
/// bulk/junk/list`, `X-Autoreply`/`X-Autorespond`, or an out-of-office
/// subject.
pub fn is_automatic(
    auto_submitted: Option<&str>,
    precedence: Option<&str>,
    x_autoreply: bool,
    subject: &str,
) -> bool {
    if auto_submitted.is_some_and(|v| !v.trim().eq_ignore_ascii_case("no")) {
        return true;
    }
    if precedence.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "bulk" | "junk" | "list"
        )
    }) {
        return true;
    }
    if x_autoreply {
        return true;
    }
    let subject = subject.to_lowercase();
    AUTO_SUBJECTS.iter().any(|s| subject.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_history_and_signatures_are_taken_out() {
        let text = "Thanks, the papers are attached.\r\n\r\nHannah\r\n-- \r\nHannah Baker\r\nNorthwind\r\n\r\nOn Mon, 1 Dec 2026 at 10:00, Harbour <reply@x> wrote:\r\n> Please send the papers\r\n";
        assert_eq!(
            strip_reply(text),
            "Thanks, the papers are attached.\n\nHannah"
        );
        let wrapped = "Yes.\n\nOn Mon, 1 Dec 2026 at 10:00, Harbour & Vale\n<reply+abc@mail.example> wrote:\n> old";
        assert_eq!(strip_reply(wrapped), "Yes.");
        let outlook =
            "Done.\n\nFrom: Harbour <a@b>\nSent: Monday\nTo: Hannah\nSubject: x\n\nold text";
        assert_eq!(strip_reply(outlook), "Done.");
        let inline = "Hi\n> quoted\nmine\n\nSent from my iPhone";
        assert_eq!(strip_reply(inline), "Hi\nmine");
        assert_eq!(
            strip_reply("Sent from my other account."),
            "Sent from my other account."
        );
        assert_eq!(
            strip_reply("-----Original Message-----\nold"),
            "",
            "nothing new"
        );
    }

    #[test]
    fn automatic_replies_are_recognised() {
        assert!(is_automatic(Some("auto-replied"), None, false, "Re: x"));
        assert!(!is_automatic(Some("no"), None, false, "Re: x"));
        assert!(is_automatic(None, Some("bulk"), false, "Re: x"));
        assert!(is_automatic(None, Some("List"), false, "Re: x"));
        assert!(!is_automatic(None, Some("first-class"), false, "Re: x"));
        assert!(is_automatic(None, None, true, "Re: x"));
        assert!(is_automatic(
            None,
            None,
            false,
            "Out of Office: back Monday"
        ));
        assert!(is_automatic(None, None, false, "Automatic reply: Re: x"));
        assert!(!is_automatic(None, None, false, "Re: your office move"));
    }
}
