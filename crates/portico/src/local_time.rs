//! X15: every time a person reads, in their own time zone. One place turns a
//! stored instant into what a page, an e-mail or an export shows, so every
//! page says "Today 15:06" the same way.
//!
//! A page shows a [`LocalTime`]: a `<time>` element whose `datetime` is the
//! instant in RFC 3339 (with the viewer's offset), whose `title` is the full
//! local date and time with the zone, and whose text is short and relative
//! ("Today 15:06", "Yesterday 09:12", "Mon 09:12", "3 Oct", "3 Oct 2025").

use crate::domain::Millis;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// A time zone by its tz database name (`Australia/Sydney`), UTC when the
/// name is unknown (names are checked when they are saved).
pub fn zone_named(name: &str) -> TimeZone {
    TimeZone::get(name.trim()).unwrap_or(TimeZone::UTC)
}

/// A stored instant, however a template holds it (by value or reference).
pub trait Instant {
    fn millis(&self) -> Millis;
}

impl Instant for Millis {
    fn millis(&self) -> Millis {
        *self
    }
}

impl<T: Instant + ?Sized> Instant for &T {
    fn millis(&self) -> Millis {
        (**self).millis()
    }
}

/// Who is looking, as far as time goes: their zone and their "now".
#[derive(Clone, Debug)]
pub struct Viewer {
    zone: TimeZone,
    zone_name: String,
    now: Timestamp,
}

impl Default for Viewer {
    fn default() -> Self {
        Self::new("UTC", Millis::now())
    }
}

impl Viewer {
    /// A viewer in the zone `zone_name` at `now`.
    pub fn new(zone_name: &str, now: Millis) -> Self {
        let zone = zone_named(zone_name);
        let zone_name = zone.iana_name().unwrap_or("UTC").to_owned();
        Self {
            zone,
            zone_name,
            now: now.to_timestamp(),
        }
    }

    /// The first zone that is set: a person's own, else their practice's.
    pub fn for_person(own: Option<&str>, practice: &str, now: Millis) -> Self {
        let name = own
            .map(str::trim)
            .filter(|z| !z.is_empty())
            .unwrap_or(practice);
        Self::new(name, now)
    }

    /// The same viewer at another "now".
    pub fn with_now(mut self, now: Millis) -> Self {
        self.now = now.to_timestamp();
        self
    }

    /// The tz database name of the viewer's zone.
    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The viewer's "now".
    pub fn now(&self) -> Millis {
        Millis(self.now.as_millisecond())
    }

    fn local(&self, at: Millis) -> jiff::ZonedDateTime {
        at.to_timestamp().to_zoned_datetime(self.zone.clone())
    }

    fn today(&self) -> Date {
        self.now.to_zoned_datetime(self.zone.clone()).date()
    }

    /// Whole calendar days from `at`'s local date to today's (negative for
    /// the future).
    fn days_ago(&self, day: Date) -> i64 {
        self.today()
            .since(day)
            .map(|span| i64::from(span.get_days()))
            .unwrap_or(i64::MAX)
    }

    /// The short form of a past (or present) instant: "Today 15:06",
    /// "Yesterday 09:12", "Mon 09:12" within the week, "3 Oct" this year,
    /// "3 Oct 2025" before. Future instants read "Tomorrow 15:06",
    /// "Fri 15:06", "3 Oct 15:06".
    pub fn short(&self, at: Millis) -> String {
        let local = self.local(at);
        let days = self.days_ago(local.date());
        let clock = local.strftime("%H:%M");
        match days {
            0 => format!("Today {clock}"),
            1 => format!("Yesterday {clock}"),
            -1 => format!("Tomorrow {clock}"),
            2..=6 | -6..=-2 => format!("{} {clock}", local.strftime("%a")),
            d if d < 0 => {
                if local.year() == self.today().year() {
                    format!("{} {clock}", local.strftime("%-d %b"))
                } else {
                    format!("{} {clock}", local.strftime("%-d %b %Y"))
                }
            }
            _ if local.year() == self.today().year() => local.strftime("%-d %b").to_string(),
            _ => local.strftime("%-d %b %Y").to_string(),
        }
    }

    /// How long ago (or how far ahead) `at` is, in words: "just now",
    /// "5 minutes ago", "3 hours ago", "3 days ago", "in 2 days".
    pub fn relative(&self, at: Millis) -> String {
        let seconds = (self.now.as_millisecond() - at.0) / 1000;
        let (amount, future) = if seconds < 0 {
            (-seconds, true)
        } else {
            (seconds, false)
        };
        if amount < 60 {
            return "just now".to_owned();
        }
        let (n, unit) = if amount < 3600 {
            (amount / 60, "minute")
        } else if amount < 86_400 {
            (amount / 3600, "hour")
        } else if amount < 60 * 86_400 {
            (amount / 86_400, "day")
        } else {
            return self.short(at);
        };
        let plural = if n == 1 { "" } else { "s" };
        if future {
            format!("in {n} {unit}{plural}")
        } else {
            format!("{n} {unit}{plural} ago")
        }
    }

    /// The full local date and time, for a tooltip or an e-mail:
    /// "Tuesday 2 December 2025, 15:06 AEDT".
    pub fn full(&self, at: Millis) -> String {
        self.local(at)
            .strftime("%A %-d %B %Y, %H:%M %Z")
            .to_string()
    }

    /// The instant in RFC 3339 with the viewer's offset
    /// (`2025-12-02T15:06:00+11:00`).
    pub fn rfc3339(&self, at: Millis) -> String {
        self.local(at).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    /// A page's `<time>` element with the short form.
    pub fn at(&self, at: Millis) -> LocalTime {
        self.element(at, self.short(at))
    }

    /// A page's `<time>` element with the duration form ("3 days ago").
    pub fn ago(&self, at: Millis) -> LocalTime {
        self.element(at, self.relative(at))
    }

    fn element(&self, at: Millis, text: String) -> LocalTime {
        LocalTime {
            datetime: self.rfc3339(at),
            title: format!("{} ({})", self.full(at), self.zone_name),
            text,
        }
    }

    /// The date and time as a spreadsheet cell holds it: local, no zone.
    pub fn civil(&self, at: Millis) -> jiff::civil::DateTime {
        self.local(at).datetime()
    }
}

/// A time as a page shows it: `<time datetime="…" title="…">Today 15:06</time>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub datetime: String,
    pub title: String,
    pub text: String,
}

impl std::fmt::Display for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<time datetime=\"{}\" title=\"{}\">{}</time>",
            escape(&self.datetime),
            escape(&self.title),
            escape(&self.text)
        )
    }
}

/// Every part is escaped above, so templates need no `|safe`.
impl askama::filters::HtmlSafe for LocalTime {}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Millis {
        Millis(text.parse::<Timestamp>().unwrap().as_millisecond())
    }

    fn viewer(zone: &str, now: &str) -> Viewer {
        Viewer::new(zone, at(now))
    }

    #[test]
    fn the_reminder_of_the_issue_reads_in_sydney_time() {
        // 3:06 PM in Sydney on 2 December (daylight saving, +11:00).
        let sydney = viewer("Australia/Sydney", "2025-12-02T05:00:00Z");
        assert_eq!(sydney.short(at("2025-12-02T04:06:00Z")), "Today 15:06");
        let shown = sydney.at(at("2025-12-02T04:06:00Z")).to_string();
        assert_eq!(
            shown,
            "<time datetime=\"2025-12-02T15:06:00+11:00\" \
             title=\"Tuesday 2 December 2025, 15:06 AEDT (Australia/Sydney)\">Today 15:06</time>"
        );
    }

    #[test]
    fn relative_days_follow_the_viewers_calendar() {
        let london = viewer("Europe/London", "2025-10-08T10:00:00Z"); // a Wednesday
        assert_eq!(london.short(at("2025-10-07T08:12:00Z")), "Yesterday 09:12");
        assert_eq!(london.short(at("2025-10-06T08:12:00Z")), "Mon 09:12");
        assert_eq!(london.short(at("2025-10-01T08:12:00Z")), "1 Oct");
        assert_eq!(london.short(at("2024-10-03T08:12:00Z")), "3 Oct 2024");
        assert_eq!(london.short(at("2025-10-09T14:00:00Z")), "Tomorrow 15:00");
        // Just after midnight in Sydney is still "yesterday" in London.
        let sydney = viewer("Australia/Sydney", "2025-10-08T10:00:00Z");
        assert_eq!(sydney.short(at("2025-10-07T13:30:00Z")), "Today 00:30");
        assert_eq!(london.short(at("2025-10-07T13:30:00Z")), "Yesterday 14:30");
    }

    #[test]
    fn daylight_saving_changes_the_offset_not_the_wall_clock() {
        // Sydney leaves daylight saving on 6 April 2025 (+11 → +10).
        let sydney = viewer("Australia/Sydney", "2025-04-10T00:00:00Z");
        assert_eq!(
            sydney.rfc3339(at("2025-04-05T04:06:00Z")),
            "2025-04-05T15:06:00+11:00"
        );
        assert_eq!(
            sydney.rfc3339(at("2025-04-07T05:06:00Z")),
            "2025-04-07T15:06:00+10:00"
        );
        assert!(
            sydney
                .full(at("2025-04-07T05:06:00Z"))
                .ends_with("15:06 AEST")
        );
    }

    #[test]
    fn durations_read_as_words() {
        let utc = viewer("UTC", "2025-10-08T10:00:00Z");
        assert_eq!(utc.relative(at("2025-10-08T09:59:30Z")), "just now");
        assert_eq!(utc.relative(at("2025-10-08T09:55:00Z")), "5 minutes ago");
        assert_eq!(utc.relative(at("2025-10-08T09:00:00Z")), "1 hour ago");
        assert_eq!(utc.relative(at("2025-10-05T09:00:00Z")), "3 days ago");
        assert_eq!(utc.relative(at("2025-10-10T10:00:00Z")), "in 2 days");
    }

    #[test]
    fn a_person_without_a_zone_sees_the_practices() {
        let now = at("2025-10-08T10:00:00Z");
        assert_eq!(
            Viewer::for_person(None, "Australia/Sydney", now).zone_name(),
            "Australia/Sydney"
        );
        assert_eq!(
            Viewer::for_person(Some("Europe/London"), "Australia/Sydney", now).zone_name(),
            "Europe/London"
        );
        assert_eq!(Viewer::new("Nowhere/Else", now).zone_name(), "UTC");
    }
}
