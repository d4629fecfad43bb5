//! Settings → Audit log (X2): admins read, filter and export what people
//! did; the retention the practice chose is enforced daily; operators
//! verify the hash chain (`portico admin verify-audit`).

use super::sessions::ClientInfo;
use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::domain::{ClientId, Millis, PracticeId, ValidationError};
use crate::local_time::Viewer;
use crate::store::{AuditEntry, AuditFilter, AuditKind, ChainReport, Staff};
use tracing::instrument;

/// Entries on one page of the log.
pub const PAGE_SIZE: i64 = 50;
const DAY_MS: i64 = 86_400_000;
/// The default and the bounds of the retention, in days.
pub const DEFAULT_RETENTION_DAYS: i64 = 2557;
pub const MIN_RETENTION_DAYS: i64 = 30;
pub const MAX_RETENTION_DAYS: i64 = 36_525;

/// The filters as typed in the page's form (all optional).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    /// `staff:<id>` or `contact:<id>`.
    #[serde(default)]
    pub person: String,
    #[serde(default)]
    pub client: String,
    #[serde(default)]
    pub kind: String,
    /// `YYYY-MM-DD`, in the viewer's time zone.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// Entries numbered below this one (the next page).
    #[serde(default)]
    pub before: String,
}

impl AuditQuery {
    /// The store's filter, dates read in the viewer's zone; a bad value
    /// is refused with a sentence about its field.
    pub fn filter(&self, time: &Viewer) -> AppResult<AuditFilter> {
        let person = match self.person.trim() {
            "" => None,
            text => {
                let (kind, id) = text
                    .split_once(':')
                    .filter(|(k, _)| matches!(*k, "staff" | "contact"))
                    .ok_or_else(|| invalid("Choose a person from the list.", "person"))?;
                Some((kind.to_owned(), id.to_owned()))
            }
        };
        let client = match self.client.trim() {
            "" => None,
            text => Some(
                text.parse::<ClientId>()
                    .map_err(|_| invalid("Choose a client from the list.", "client"))?,
            ),
        };
        let action = match self.kind.trim() {
            "" => None,
            text => Some(
                AuditKind::parse(text)
                    .ok_or_else(|| invalid("Choose a kind from the list.", "kind"))?,
            ),
        };
        let from = day_start(time, &self.from, "from")?;
        let until = day_start(time, &self.to, "to")?.map(|m| Millis(m.0 + DAY_MS));
        if let (Some(from), Some(until)) = (from, until)
            && until <= from
        {
            return Err(invalid("The end date comes before the start date.", "to"));
        }
        Ok(AuditFilter {
            person,
            client,
            action,
            from,
            until,
        })
    }

    pub fn before(&self) -> Option<i64> {
        self.before.trim().parse().ok().filter(|n: &i64| *n > 0)
    }
}

fn invalid(message: &str, field: &'static str) -> AppError {
    AppError::Invalid(ValidationError::new(message).at(field))
}

/// The start of a day typed as `YYYY-MM-DD`, in the viewer's zone.
fn day_start(time: &Viewer, text: &str, field: &'static str) -> AppResult<Option<Millis>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let date: jiff::civil::Date = text
        .parse()
        .map_err(|_| invalid("Give the date as YYYY-MM-DD.", field))?;
    let zoned = date
        .to_zoned_datetime(time.zone().clone())
        .map_err(|_| invalid("Give the date as YYYY-MM-DD.", field))?;
    Ok(Some(Millis(zoned.timestamp().as_millisecond())))
}

/// One page of the log and what the filters offer.
#[derive(Clone, Debug)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// The `before` of the next (older) page, if there is one.
    pub next_before: Option<i64>,
    /// `(value, name)` for the person filter.
    pub people: Vec<(String, String)>,
    pub clients: Vec<(ClientId, String)>,
    pub retention_days: i64,
}

fn admin(actor: &Staff) -> AppResult<()> {
    if policy::staff_may_manage_practice(actor, actor.practice_id) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

impl App {
    /// X2: a page of the practice's audit log, newest first; admins only.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn audit_log(
        &self,
        actor: &Staff,
        filter: &AuditFilter,
        before: Option<i64>,
    ) -> AppResult<AuditPage> {
        admin(actor)?;
        let p = actor.practice_id;
        let mut entries = self
            .store
            .audit_entries(p, filter, before, PAGE_SIZE + 1)
            .await?;
        let next_before = if entries.len() > usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX) {
            entries.pop();
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        let mut people: Vec<(String, String)> = self
            .store
            .list_staff(p)
            .await?
            .into_iter()
            .map(|s| (format!("staff:{}", s.id), format!("{} (team)", s.name)))
            .collect();
        people.extend(
            self.store
                .list_contacts(p)
                .await?
                .into_iter()
                .map(|c| (format!("contact:{}", c.id), format!("{} (contact)", c.name))),
        );
        let clients = self
            .store
            .list_clients(p, &crate::store::ClientFilter::default())
            .await?
            .into_iter()
            .map(|c| (c.client.id, c.client.name))
            .collect();
        Ok(AuditPage {
            entries,
            next_before,
            people,
            clients,
            retention_days: self.store.audit_retention_days(p).await?,
        })
    }

    /// X2: the filtered log as CSV, written page by page into a temporary
    /// file on a blocking thread (constant memory); the export is itself
    /// recorded. Times in ISO 8601 with the viewer's offset.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn export_audit_csv(
        &self,
        actor: &Staff,
        filter: &AuditFilter,
        time: &Viewer,
        origin: &ClientInfo,
    ) -> AppResult<std::fs::File> {
        admin(actor)?;
        let p = actor.practice_id;
        // Recorded first: the export holds its own entry.
        self.store
            .audit(
                &self
                    .audit_entry(p, actor, AuditKind::AuditExported, origin)
                    .on("practice", p),
            )
            .await?;
        let (rows, receiver) = tokio::sync::mpsc::channel::<Vec<[String; 10]>>(2);
        let writer = tokio::task::spawn_blocking(move || write_csv(receiver));
        let mut before = None;
        loop {
            let page = self.store.audit_entries(p, filter, before, 1000).await?;
            let Some(last) = page.last() else { break };
            before = Some(last.seq);
            let lines = page
                .iter()
                .map(|e| {
                    [
                        e.seq.to_string(),
                        time.rfc3339(e.at),
                        e.actor_name.clone(),
                        e.actor_kind.clone(),
                        e.action.clone(),
                        e.subject.clone(),
                        e.client_name.clone().unwrap_or_default(),
                        e.detail.clone(),
                        e.ip.clone(),
                        e.request_id.clone(),
                    ]
                })
                .collect();
            if rows.send(lines).await.is_err() {
                break;
            }
        }
        drop(rows);
        writer
            .await
            .map_err(|e| AppError::internal("could not write the audit export", e))?
            .map_err(|e| AppError::internal("could not write the audit export", e))
    }

    /// X2: how long the practice keeps its log, in years (admins).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn set_audit_retention(
        &self,
        actor: &Staff,
        years: &str,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        admin(actor)?;
        let years: i64 = years
            .trim()
            .parse()
            .ok()
            .filter(|y| (1..=100).contains(y))
            .ok_or_else(|| invalid("Keep the log for 1 to 100 years.", "years"))?;
        // Whole years, leap days included.
        let days = (years * 36_525 + 99) / 100;
        let entry = self
            .audit_entry(actor.practice_id, actor, AuditKind::SettingsChanged, origin)
            .on("practice", actor.practice_id)
            .detail(format!("audit log kept {years} years"));
        Ok(self.store.set_audit_retention_days(days, &entry).await?)
    }

    /// X2: the daily job: each practice's entries older than its retention
    /// go, the chain keeping its anchor. Returns how many went.
    pub async fn prune_audit_logs(&self) -> AppResult<i64> {
        let now = self.clock.now();
        let mut removed = 0;
        for practice in self.store.list_practices().await? {
            let days = self
                .store
                .audit_retention_days(practice.id)
                .await?
                .clamp(MIN_RETENTION_DAYS, MAX_RETENTION_DAYS);
            removed += self
                .store
                .prune_audit(practice.id, Millis(now.0 - days * DAY_MS), now)
                .await?;
        }
        Ok(removed)
    }

    /// `portico admin verify-audit`: every practice's chain (or one).
    pub async fn verify_audit(&self, practice: Option<PracticeId>) -> AppResult<Vec<ChainReport>> {
        let practices = match practice {
            Some(id) => vec![id],
            None => self
                .store
                .list_practices()
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect(),
        };
        let mut reports = Vec::with_capacity(practices.len());
        for id in practices {
            reports.push(self.store.verify_audit_chain(id).await?);
        }
        Ok(reports)
    }
}

const CSV_HEADER: [&str; 10] = [
    "Number",
    "Time",
    "Who",
    "Who (kind)",
    "What",
    "Record",
    "Client",
    "Detail",
    "IP address",
    "Request id",
];

fn write_csv(
    mut lines: tokio::sync::mpsc::Receiver<Vec<[String; 10]>>,
) -> Result<std::fs::File, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let file = tempfile::NamedTempFile::new().map_err(|e| text(&e))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(
        file.reopen().map_err(|e| text(&e))?,
    ));
    w.write_record(CSV_HEADER).map_err(|e| text(&e))?;
    while let Some(batch) = lines.blocking_recv() {
        for fields in batch {
            w.write_record(
                fields
                    .iter()
                    .map(|f| super::chats::csv_safe(f).into_owned()),
            )
            .map_err(|e| text(&e))?;
        }
    }
    w.flush().map_err(|e| text(&e))?;
    let handle = file.reopen().map_err(|e| text(&e))?;
    drop(file);
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_in_the_viewers_zone() {
        let time = Viewer::new("Australia/Sydney", Millis(0));
        let query = AuditQuery {
            from: "2026-01-01".into(),
            to: "2026-01-01".into(),
            ..AuditQuery::default()
        };
        let filter = query.filter(&time).unwrap();
        // Midnight in Sydney (UTC+11 in January) is 13:00 UTC the day before.
        let from = filter.from.unwrap().to_timestamp().to_string();
        assert_eq!(from, "2025-12-31T13:00:00Z");
        assert_eq!(filter.until.unwrap().0 - filter.from.unwrap().0, DAY_MS);
    }

    #[test]
    fn bad_filters_are_refused_by_field() {
        let time = Viewer::new("UTC", Millis(0));
        for (query, field) in [
            (
                AuditQuery {
                    from: "yesterday".into(),
                    ..AuditQuery::default()
                },
                "from",
            ),
            (
                AuditQuery {
                    kind: "made up".into(),
                    ..AuditQuery::default()
                },
                "kind",
            ),
            (
                AuditQuery {
                    person: "admin".into(),
                    ..AuditQuery::default()
                },
                "person",
            ),
            (
                AuditQuery {
                    from: "2026-02-01".into(),
                    to: "2026-01-01".into(),
                    ..AuditQuery::default()
                },
                "to",
            ),
        ] {
            assert_eq!(query.filter(&time).unwrap_err().field(), Some(field));
        }
    }
}
