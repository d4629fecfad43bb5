//! A page's HTML, parsed, so that a test asks for what the structure says
//! (the link in a list, a field's value, a row of a table) by CSS selector
//! rather than looking for a piece of markup in the text.

use scraper::{ElementRef, Html, Selector};

/// A parsed page (or fragment).
pub struct Page {
    html: Html,
}

impl Page {
    pub fn parse(html: &str) -> Self {
        Self {
            html: Html::parse_document(html),
        }
    }

    fn select<'a>(&'a self, css: &str) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        let selector =
            Selector::parse(css).unwrap_or_else(|e| panic!("a CSS selector: {css:?}: {e:?}"));
        self.html.select(&selector).collect::<Vec<_>>().into_iter()
    }

    /// Whether any element matches `css`.
    pub fn has(&self, css: &str) -> bool {
        self.select(css).next().is_some()
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.select(css).count()
    }

    /// The text of each element matching `css`, in order, its white space
    /// collapsed.
    pub fn select_text(&self, css: &str) -> Vec<String> {
        self.select(css).map(|element| text_of(&element)).collect()
    }

    /// The text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        self.select(css)
            .next()
            .map(|element| text_of(&element))
            .unwrap_or_else(|| panic!("no element matches {css:?}"))
    }

    /// The attribute `name` of the first element matching `css`, if both
    /// are there.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.select(css)
            .next()
            .and_then(|element| element.value().attr(name).map(str::to_owned))
    }

    /// The cells (`th`, `td`) of the first row matching `rows` (e.g.
    /// `"tbody tr"`) whose first cell reads `first`.
    pub fn row(&self, rows: &str, first: &str) -> Vec<String> {
        let cells = Selector::parse("th, td").expect("the cells' selector");
        self.select(rows)
            .map(|row| row.select(&cells).map(|cell| text_of(&cell)).collect())
            .find(|cells: &Vec<String>| cells.first().is_some_and(|cell| cell == first))
            .unwrap_or_else(|| panic!("no row of {rows:?} starts with {first:?}"))
    }

    /// The attribute `name` of each element matching `css` that has it.
    pub fn attrs(&self, css: &str, name: &str) -> Vec<String> {
        self.select(css)
            .filter_map(|element| element.value().attr(name).map(str::to_owned))
            .collect()
    }
}

fn text_of(element: &ElementRef<'_>) -> String {
    element
        .text()
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}
