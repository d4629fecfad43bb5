//! X1: what a person typed into the search box, as words, and the pieces
//! of a found text with those words marked. No I/O here.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// At most this many words of a query are searched for.
const MAX_WORDS: usize = 8;
/// A query needs at least this many letters or digits in all.
pub const MIN_CHARS: usize = 2;

/// A search query: its words, folded (lower case, accents removed), each
/// only letters and digits, so nothing of it is read as a query operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    /// The words of `text`; `None` when there is nothing long enough to
    /// search for.
    pub fn parse(text: &str) -> Option<Self> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(fold)
            .filter(|w| !w.is_empty())
            .take(MAX_WORDS)
            .collect();
        let chars: usize = words.iter().map(|w| w.chars().count()).sum();
        (chars >= MIN_CHARS).then_some(Self { words })
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// SQLite FTS5: every word, the last (the one still being typed) as
    /// a prefix (`"tax" "retu"*`). Only the last: a prefix makes the index
    /// gather every word it begins, and for a word as common as "message"
    /// in a large practice that is the whole of its list.
    pub fn fts5_all(&self) -> String {
        self.with_last_a_prefix(|w| format!("\"{w}\""), "*", " ")
    }

    /// SQLite FTS5: the words as one exact phrase (`"tax return"`).
    pub fn fts5_phrase(&self) -> String {
        format!("\"{}\"", self.words.join(" "))
    }

    /// PostgreSQL `to_tsquery`: every word, the last as a prefix
    /// (`'tax' & 'retu':*`).
    pub fn tsquery_all(&self) -> String {
        self.with_last_a_prefix(|w| format!("'{w}'"), ":*", " & ")
    }

    fn with_last_a_prefix(
        &self,
        quoted: impl Fn(&str) -> String,
        prefix: &str,
        between: &str,
    ) -> String {
        let last = self.words.len().saturating_sub(1);
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let word = quoted(w);
                if i == last { word + prefix } else { word }
            })
            .collect::<Vec<_>>()
            .join(between)
    }

    /// PostgreSQL `phraseto_tsquery`: the words in order.
    pub fn phrase_text(&self) -> String {
        self.words.join(" ")
    }

    /// Whether `word` (as found in a text) is one searched for: it starts
    /// with one of the query's words, once folded.
    fn matches(&self, word: &str) -> bool {
        let folded = fold(word);
        self.words.iter().any(|w| folded.starts_with(w.as_str()))
    }

    /// `text` cut into pieces, the searched-for words marked, around the
    /// first match when the text is longer than `max_chars` ("…" where it
    /// was cut).
    pub fn highlight(&self, text: &str, max_chars: usize) -> Vec<Piece> {
        let window = self.window(text, max_chars);
        let mut pieces: Vec<Piece> = Vec::new();
        let mut push = |text: &str, marked: bool| match pieces.last_mut() {
            Some(last) if last.marked == marked => last.text.push_str(text),
            _ => pieces.push(Piece {
                text: text.to_owned(),
                marked,
            }),
        };
        if window.cut_before {
            push("…", false);
        }
        for (word, is_word) in runs(window.text) {
            push(word, is_word && self.matches(word));
        }
        if window.cut_after {
            push("…", false);
        }
        pieces
    }

    fn window<'a>(&self, text: &'a str, max_chars: usize) -> Window<'a> {
        let total = text.chars().count();
        if total <= max_chars {
            return Window {
                text,
                cut_before: false,
                cut_after: false,
            };
        }
        // The first match, in characters from the start.
        let mut first = 0;
        let mut at = 0;
        for (run, is_word) in runs(text) {
            if is_word && self.matches(run) {
                first = at;
                break;
            }
            at += run.chars().count();
        }
        let start = first.saturating_sub(max_chars / 4).min(total - max_chars);
        let byte = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(i, _)| i);
        let (from, to) = (byte(start), byte(start + max_chars));
        Window {
            text: &text[from..to],
            cut_before: start > 0,
            cut_after: start + max_chars < total,
        }
    }
}

struct Window<'a> {
    text: &'a str,
    cut_before: bool,
    cut_after: bool,
}

/// A piece of a found text; marked pieces are the words searched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub marked: bool,
}

/// Lower case, accents removed (decomposed, combining marks dropped).
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// `text` as runs of letters and digits (words, `true`) and of anything
/// else (`false`); combining marks stay with their word.
fn runs(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut current: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let is_word = c.is_alphanumeric() || (current == Some(true) && is_combining_mark(c));
        match current {
            Some(kind) if kind == is_word => {}
            Some(kind) => {
                out.push((&text[start..i], kind));
                start = i;
                current = Some(is_word);
            }
            None => current = Some(is_word),
        }
    }
    if let Some(kind) = current {
        out.push((&text[start..], kind));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(pieces: &[Piece]) -> Vec<&str> {
        pieces
            .iter()
            .filter(|p| p.marked)
            .map(|p| p.text.as_str())
            .collect()
    }

    #[test]
    fn words_are_folded_and_stripped_of_operators() {
        let q = SearchQuery::parse("  Crème \"brûlée\" OR -x* NEAR(").unwrap();
        assert_eq!(q.words(), ["creme", "brulee", "or", "x", "near"]);
        assert_eq!(q.fts5_all(), r#""creme" "brulee" "or" "x" "near"*"#);
        assert_eq!(
            q.tsquery_all(),
            "'creme' & 'brulee' & 'or' & 'x' & 'near':*"
        );
        assert_eq!(q.fts5_phrase(), r#""creme brulee or x near""#);
    }

    #[test]
    fn too_short_queries_are_refused() {
        assert_eq!(SearchQuery::parse(""), None);
        assert_eq!(SearchQuery::parse("   "), None);
        assert_eq!(SearchQuery::parse("a"), None);
        assert_eq!(SearchQuery::parse("'\"*()"), None);
        assert!(SearchQuery::parse("ab").is_some());
    }

    #[test]
    fn matches_are_marked_by_prefix_without_regard_to_case_or_accents() {
        let q = SearchQuery::parse("creme TAX").unwrap();
        let pieces = q.highlight("Crème brûlée & taxes <b>", 100);
        assert_eq!(marked(&pieces), ["Crème", "taxes"]);
        let all: String = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(all, "Crème brûlée & taxes <b>");
    }

    #[test]
    fn long_texts_are_cut_around_the_first_match() {
        let q = SearchQuery::parse("needle").unwrap();
        let text = format!("{} needle {}", "hay ".repeat(100), "straw ".repeat(100));
        let pieces = q.highlight(&text, 60);
        assert_eq!(marked(&pieces), ["needle"]);
        assert!(pieces[0].text.starts_with('…'));
        assert!(pieces.last().unwrap().text.ends_with('…'));
        let shown: usize = pieces.iter().map(|p| p.text.chars().count()).sum();
        assert_eq!(shown, 62);
    }
}
