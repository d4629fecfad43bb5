//! Real WebSockets to `/ws` (M14), opened as a signed-in page opens them,
//! and what they hear.

use super::{Browser, TestApp};
use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;

/// An open WebSocket of a test.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for a socket to close.
const SOCKET_DEADLINE: Duration = Duration::from_secs(20);

/// How long a test waits for the next event before it takes it that none
/// is coming.
const EVENT_DEADLINE: Duration = Duration::from_secs(5);

/// The opening request of a WebSocket to `url` (`ws://…`), as a page of
/// `origin` sends it with the browser's session cookie.
pub fn socket_request(url: &str, origin: &str, browser: &Browser) -> Request {
    let mut request = url.into_client_request().unwrap();
    let cookie = format!(
        "portico_session={}",
        browser.cookie("portico_session").expect("signed in")
    );
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    request
}

/// A real WebSocket to `base`'s `/ws` with the browser's session cookie.
pub async fn socket_at(base: &str, browser: &Browser) -> Socket {
    let url = base.replace("http://", "ws://") + "/ws";
    let (socket, _) = tokio_tungstenite::connect_async(socket_request(&url, base, browser))
        .await
        .expect("websocket");
    socket
}

pub async fn socket(app: &TestApp, browser: &Browser) -> Socket {
    socket_at(&app.base_url, browser).await
}

/// The next event the socket hears, or `None` when nothing comes in time
/// (or the socket closes).
pub async fn next_event(socket: &mut Socket) -> Option<serde_json::Value> {
    match tokio::time::timeout(EVENT_DEADLINE, socket.next()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) => serde_json::from_str(&text).ok(),
        _ => None,
    }
}

/// Waits for the server to close the socket because its session ended:
/// a close frame with Portico's code, and no message before it.
pub async fn closed_for_session_end(socket: &mut Socket, what: &str) {
    let outcome = tokio::time::timeout(SOCKET_DEADLINE, async {
        loop {
            match socket.next().await {
                Some(Ok(WsMessage::Close(Some(frame)))) => return Ok(u16::from(frame.code)),
                Some(Ok(WsMessage::Close(None))) => return Err("a close frame without a code"),
                Some(Ok(WsMessage::Text(text))) => {
                    panic!("{what}: a message after the session ended: {text}")
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err("the connection dropped without a close frame"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: the socket stayed open"));
    assert_eq!(outcome, Ok(4001), "{what}");
}
