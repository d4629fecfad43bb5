//! The WebSocket that makes pages live (M14): one per open page, carrying
//! the live events of the signed-in person's chats.

use crate::app::sessions::Person;
use crate::http::AppState;
use crate::http::session::MaybeIdentity;
use crate::store::{Member, SessionStage};
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;

/// `GET /ws`: one WebSocket per open page, carrying the live events of the
/// signed-in person's chats.
pub async fn ws_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    headers: HeaderMap,
    Query(open): Query<crate::http::notify::OpenChat>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // A page of another site must not open a socket with this browser's cookie.
    if !crate::http::csrf::same_origin(&headers, &state) {
        return StatusCode::FORBIDDEN.into_response();
    }
    // A stopping instance takes no new sockets: the page retries, and the
    // load balancer sends it to another instance.
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let Some(identity) = maybe
        .identity
        .filter(|i| i.session.stage == SessionStage::Active)
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let member = match &identity.person {
        Person::Staff(staff) => Member::Staff(staff.id),
        Person::Contact(contact) => Member::Contact(contact.id),
    };
    let practice = identity.practice.id;
    // Registered before the upgrade completes, so nothing sent meanwhile
    // is missed; dropped (and so unregistered) if the upgrade fails. The
    // socket belongs to this session: it closes when the session ends.
    let events = state
        .app
        .live
        .subscribe(practice, member, &identity.session.id_hash);
    // And it never outlives the session's absolute end.
    let left = identity.session.expires_at.0 - state.app.clock.now().0;
    let ends_at = tokio::time::Instant::now()
        + std::time::Duration::from_millis(u64::try_from(left).unwrap_or(0));
    // An idle socket should cost little: browsers send nothing but close
    // frames and pongs, so the read buffer is small. Frames are gathered
    // only while more are already queued (see `live`), so the write
    // buffer holds at most one gathering and is written out after it.
    upgrade
        .read_buffer_size(SOCKET_READ_BUFFER)
        .write_buffer_size(SOCKET_GATHER_BYTES)
        .max_write_buffer_size(SOCKET_MAX_WRITE_BUFFER)
        .max_message_size(SOCKET_MAX_INCOMING)
        .max_frame_size(SOCKET_MAX_INCOMING)
        .on_upgrade(move |socket| {
            // N2: a message shown on an open chat page is seen, not notified.
            let seen = open.watch(state.app.clone(), practice, member);
            live(socket, events, seen, ends_at, state.metrics.clone())
        })
}

/// What a socket reads at a time, and the largest message a browser may send it.
const SOCKET_READ_BUFFER: usize = 1024;
const SOCKET_MAX_INCOMING: usize = 4096;
/// Frames not yet taken by a slow connection, beyond which it is closed.
const SOCKET_MAX_WRITE_BUFFER: usize = 64 * 1024;
/// Events already queued for a socket when it wakes are written together,
/// in one system call, up to this many bytes (beyond it, as they come)...
const SOCKET_GATHER_BYTES: usize = 16 * 1024;
/// ...and this many events, so one busy socket does not hold its thread.
const SOCKET_GATHER_FRAMES: usize = 64;
/// A connection that takes no frame for this long is closed: its page
/// catches up when it reconnects.
const SOCKET_SEND_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The close code a socket gets when its session has ended (4000–4999 are
/// the application's own): the page then stops reconnecting.
pub const SESSION_ENDED_CLOSE_CODE: u16 = 4001;

/// The close code a socket gets when its instance stops ("service
/// restart"): the page reconnects after a random pause, so a thousand
/// pages do not all come back at once, and catches up.
pub const RESTART_CLOSE_CODE: u16 = 1012;

/// One task per socket: it sends the person's events as the hub queues
/// them, and ends when either side closes, the hub lets the socket go, or
/// its session ends (then with a close frame that says so). Events that
/// queued up while the task waited for its turn are written with the one
/// that woke it, in one write: under load a socket costs one system call
/// per wake rather than one per event.
async fn live(
    mut socket: WebSocket,
    mut events: crate::delivery::live::Subscription,
    seen: Option<crate::http::notify::SeenOnPage>,
    session_ends_at: tokio::time::Instant,
    metrics: std::sync::Arc<crate::http::Metrics>,
) {
    let session_ended = axum::extract::ws::CloseFrame {
        code: SESSION_ENDED_CLOSE_CODE,
        reason: "session ended".into(),
    };
    let session_ends = tokio::time::sleep_until(session_ends_at);
    tokio::pin!(session_ends);
    loop {
        tokio::select! {
            () = &mut session_ends => {
                let _ = tokio::time::timeout(
                    SOCKET_SEND_WITHIN,
                    socket.send(WsMessage::Close(Some(session_ended))),
                )
                .await;
                return;
            }
            frame = events.next() => {
                let Some(frame) = frame else {
                    if events.restarting() && !events.session_ended() {
                        let restart = axum::extract::ws::CloseFrame {
                            code: RESTART_CLOSE_CODE,
                            reason: "instance restarting".into(),
                        };
                        let _ = tokio::time::timeout(
                            SOCKET_SEND_WITHIN,
                            socket.send(WsMessage::Close(Some(restart))),
                        )
                        .await;
                    } else if events.session_ended() {
                        let _ = tokio::time::timeout(
                            SOCKET_SEND_WITHIN,
                            socket.send(WsMessage::Close(Some(session_ended))),
                        )
                        .await;
                    }
                    return;
                };
                // When each event was published, for /metrics once written
                // (the first apart, so a lone event allocates nothing), and
                // what an open chat page is shown, to mark seen once written.
                let first = frame.published;
                let mut more = Vec::new();
                let mut shown = Vec::new();
                let written = tokio::time::timeout(SOCKET_SEND_WITHIN, async {
                    let mut next = Some(frame);
                    let mut gathered = 0;
                    while let Some(frame) = next.take() {
                        if gathered > 0 {
                            more.push(frame.published);
                        }
                        gathered += 1;
                        if seen.is_some() {
                            shown.push(frame.text.clone());
                        }
                        if let Ok(text) = axum::extract::ws::Utf8Bytes::try_from(frame.text) {
                            socket.feed(WsMessage::Text(text)).await?;
                        }
                        if gathered < SOCKET_GATHER_FRAMES {
                            next = events.ready();
                        }
                    }
                    socket.flush().await
                });
                if !matches!(written.await, Ok(Ok(()))) {
                    return;
                }
                metrics.live_event_delivered(first.elapsed());
                for at in more {
                    metrics.live_event_delivered(at.elapsed());
                }
                // N2: marked seen once on the page, and outside the write's
                // deadline: a slow database does not close the socket.
                if let Some(seen) = &seen {
                    for text in &shown {
                        seen.frame(text).await;
                    }
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
