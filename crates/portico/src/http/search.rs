//! `GET /app/search` and `GET /portal/search` (X1): everything a person may
//! see that matches, grouped by kind, the matching words marked, each
//! result a link to the exact place (a message's link lands on it in its
//! chat, even when it is older than the chat's first page).

use super::AppState;
use super::area::{Area, Staff};
use super::errors::PageError;
use super::layout::Layout;
use super::pages::render;
use super::urls;
use crate::app::chats::PAGE;
use crate::app::questions::Actor;
use crate::app::search::SearchResults;
use crate::domain::search::{MIN_CHARS, Piece};
use crate::domain::{ChatId, SearchQuery};
use crate::local_time::LocalTime;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// The longest text shown of a found message or answer, in characters.
const SNIPPET_CHARS: usize = 200;

#[derive(Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
}

/// One result: where it leads, its title and an excerpt with the matches
/// marked, and a line of context.
struct Hit {
    href: String,
    title: Vec<Piece>,
    snippet: Vec<Piece>,
    meta: String,
    at: Option<LocalTime>,
}

/// The results of one kind.
struct Group {
    id: &'static str,
    heading: &'static str,
    hits: Vec<Hit>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    layout: Layout,
    action: String,
    q: String,
    /// Why there are no results to show, when there are none.
    notice: Option<String>,
    groups: Vec<Group>,
}

/// Where a message is: its chat, scrolled to it. A message older than the
/// chat's first page opens the page of messages around it.
fn message_href(base: &str, chat: ChatId, seq: i64, last_seq: i64) -> String {
    if last_seq - seq < PAGE {
        format!("{}#m{seq}", urls::chat_in(base, chat))
    } else {
        let before = seq + PAGE / 2;
        format!("{}?before={before}#m{seq}", urls::chat_in(base, chat))
    }
}

fn groups<A: Area>(
    results: SearchResults,
    query: &SearchQuery,
    layout: &Layout,
    staff: bool,
) -> Vec<Group> {
    let mark = |text: &str| query.highlight(text, SNIPPET_CHARS);
    let plain = |text: &str| {
        vec![Piece {
            text: text.to_owned(),
            marked: false,
        }]
    };
    let mut out = Vec::new();
    let mut push = |id, heading, hits: Vec<Hit>| {
        if !hits.is_empty() {
            out.push(Group { id, heading, hits });
        }
    };
    push(
        "messages",
        "Messages",
        results
            .messages
            .iter()
            .map(|m| Hit {
                href: message_href(urls::chats::<A>(), m.chat_id, m.seq, m.last_seq),
                title: plain(&format!("{} in {}", m.sender_name, m.chat_title)),
                snippet: mark(&m.body),
                meta: String::new(),
                at: Some(layout.at(m.created_at)),
            })
            .collect(),
    );
    push(
        "questions",
        "Questions",
        results
            .questions
            .iter()
            .map(|q| Hit {
                href: urls::question::<A>(q.question_id),
                title: mark(&q.title),
                snippet: mark(&q.details),
                meta: if staff {
                    format!("{} · {}", q.client_name, q.status)
                } else {
                    q.status.clone()
                },
                at: Some(layout.at(q.updated_at)),
            })
            .collect(),
    );
    push(
        "answers",
        "Answers",
        results
            .answers
            .iter()
            .map(|a| Hit {
                href: urls::question::<A>(a.question_id),
                title: plain(&a.question_title),
                snippet: mark(&a.body),
                meta: a.author_name.clone(),
                at: Some(layout.at(a.created_at)),
            })
            .collect(),
    );
    push(
        "files",
        "Files",
        results
            .files
            .iter()
            .map(|f| {
                let (href, meta) = match (&f.question, &f.chat) {
                    (Some((id, title)), _) => {
                        (urls::question::<A>(*id), format!("In question: {title}"))
                    }
                    (None, Some((chat, title, seq, last))) => (
                        message_href(urls::chats::<A>(), *chat, *seq, *last),
                        format!("In chat: {title}"),
                    ),
                    (None, None) => (urls::file(f.file_id), String::new()),
                };
                Hit {
                    href,
                    title: mark(&f.name),
                    snippet: Vec::new(),
                    meta,
                    at: Some(layout.at(f.created_at)),
                }
            })
            .collect(),
    );
    push(
        "clients",
        "Clients",
        results
            .clients
            .iter()
            .map(|c| Hit {
                href: urls::client::<Staff>(c.client_id),
                title: mark(&c.name),
                snippet: Vec::new(),
                meta: c.kind.clone(),
                at: None,
            })
            .collect(),
    );
    push(
        "contacts",
        "Contacts",
        results
            .contacts
            .iter()
            .map(|c| Hit {
                href: urls::contact_edit(c.contact_id),
                title: mark(&c.name),
                snippet: mark(&c.email),
                meta: String::new(),
                at: None,
            })
            .collect(),
    );
    out
}

/// `GET /app/search?q=…`, `GET /portal/search?q=…`
pub async fn search_get<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    Query(params): Query<SearchParams>,
) -> Result<Response, PageError> {
    let layout = A::layout(&user).clone();
    let action = urls::search::<A>();
    let q = params.q.trim().to_owned();
    let Some(query) = SearchQuery::parse(&q) else {
        let notice = (!q.is_empty())
            .then(|| format!("Type at least {MIN_CHARS} letters or digits to search."));
        let page = SearchPage {
            layout,
            action,
            q,
            notice,
            groups: Vec::new(),
        };
        return Ok(render(StatusCode::OK, &page));
    };
    let results = state.app.search(A::actor(&user), &query).await?;
    let notice = results
        .is_empty()
        .then(|| format!("Nothing found for “{q}”."));
    let staff = matches!(A::actor(&user), Actor::Staff(_));
    let groups = groups::<A>(results, &query, &layout, staff);
    let page = SearchPage {
        layout,
        action,
        q,
        notice,
        groups,
    };
    Ok(render(StatusCode::OK, &page))
}
