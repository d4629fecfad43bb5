//! X11: the SMTP listener that takes replies to notification e-mails
//! (`inbound_smtp_listen`). The server side of RFC 5321 that a receiving
//! host needs and no more: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY,
//! QUIT, a size limit (SIZE, RFC 1870) and timeouts. Only recipients that
//! are valid reply addresses of this server are accepted, so it is never
//! a relay. Why it is written here rather than taken from a crate:
//! `docs/decisions/0007-inbound-smtp.md`.

use crate::app::App;
use crate::app::inbound::InboundOutcome;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// RFC 5321 4.5.3.2: the server waits 5 minutes for a command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
/// And 10 minutes for the whole of a message's text.
const DATA_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest command line (RFC 5321 4.5.3.1.4: 512), with room for
/// extensions' parameters.
const MAX_LINE: usize = 2048;
/// Recipients of one message.
const MAX_RECIPIENTS: usize = 20;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 200;

/// Serves the listener until the task is dropped.
pub async fn serve(listener: TcpListener, app: App, domain: String, max_bytes: usize) {
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let domain: Arc<str> = Arc::from(domain);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "the SMTP listener could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            let mut stream = stream;
            let _ = stream
                .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
                .await;
            continue;
        };
        let app = app.clone();
        let domain = domain.clone();
        tokio::spawn(async move {
            let (read, write) = stream.into_split();
            if let Err(error) = session(read, write, &app, &domain, max_bytes).await {
                tracing::debug!(%error, %peer, "an SMTP session ended early");
            }
            drop(permit);
        });
    }
}

/// Reads one line (without its CRLF); `None` at the end of the stream.
/// A line longer than [`MAX_LINE`] is cut there and reported as too long.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    limit: usize,
) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if line.is_empty() {
                None
            } else {
                Some((line, too_long))
            });
        }
        match available.iter().position(|b| *b == b'\n') {
            Some(at) => {
                if line.len() + at <= limit {
                    line.extend_from_slice(&available[..at]);
                } else {
                    too_long = true;
                }
                reader.consume(at + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some((line, too_long)));
            }
            None => {
                let n = available.len();
                if line.len() + n <= limit {
                    line.extend_from_slice(available);
                } else {
                    too_long = true;
                }
                reader.consume(n);
            }
        }
    }
}

/// The address inside `FROM:<…>` or `TO:<…>`, and the parameters after it.
fn path_of<'a>(rest: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let upper = rest.get(..keyword.len())?.to_ascii_uppercase();
    if upper != keyword {
        return None;
    }
    let rest = rest[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (address, params) = rest.split_once('>')?;
    Some((address.trim(), params.trim()))
}

async fn session<R, W>(
    read: R,
    mut write: W,
    app: &App,
    domain: &str,
    max_bytes: usize,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(read);
    reply(&mut write, &format!("220 {domain} Portico ESMTP")).await?;
    let mut greeted = false;
    let mut sender: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    loop {
        let line =
            match tokio::time::timeout(COMMAND_TIMEOUT, read_line(&mut reader, MAX_LINE)).await {
                Err(_) => {
                    reply(&mut write, "421 4.4.2 Timeout, closing").await?;
                    return Ok(());
                }
                Ok(result) => result?,
            };
        let Some((line, too_long)) = line else {
            return Ok(());
        };
        if too_long {
            reply(&mut write, "500 5.5.6 Line too long").await?;
            continue;
        }
        let line = String::from_utf8_lossy(&line);
        let (verb, rest) = line.split_once(' ').unwrap_or((&line, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                greeted = true;
                sender = None;
                recipients.clear();
                reply(
                    &mut write,
                    &format!(
                        "250-{domain}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {max_bytes}"
                    ),
                )
                .await?;
            }
            "HELO" => {
                greeted = true;
                sender = None;
                recipients.clear();
                reply(&mut write, &format!("250 {domain}")).await?;
            }
            "MAIL" => {
                if !greeted {
                    reply(&mut write, "503 5.5.1 Say EHLO first").await?;
                    continue;
                }
                let Some((address, params)) = path_of(rest, "FROM:") else {
                    reply(&mut write, "501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                    continue;
                };
                let size = params
                    .split_whitespace()
                    .find_map(|p| {
                        p.to_ascii_uppercase()
                            .strip_prefix("SIZE=")
                            .map(str::to_owned)
                    })
                    .and_then(|n| n.parse::<usize>().ok());
                if size.is_some_and(|n| n > max_bytes) {
                    reply(&mut write, "552 5.3.4 Message too large").await?;
                    continue;
                }
                sender = Some(address.to_owned());
                recipients.clear();
                reply(&mut write, "250 2.1.0 OK").await?;
            }
            "RCPT" => {
                if sender.is_none() {
                    reply(&mut write, "503 5.5.1 Say MAIL first").await?;
                    continue;
                }
                let Some((address, _)) = path_of(rest, "TO:") else {
                    reply(&mut write, "501 5.5.4 Syntax: RCPT TO:<address>").await?;
                    continue;
                };
                if recipients.len() >= MAX_RECIPIENTS {
                    reply(&mut write, "452 4.5.3 Too many recipients").await?;
                    continue;
                }
                match app.accepts_reply_to(address).await {
                    Ok(true) => {
                        recipients.push(address.to_owned());
                        reply(&mut write, "250 2.1.5 OK").await?;
                    }
                    Ok(false) => {
                        reply(&mut write, "550 5.1.1 No such reply address here").await?;
                    }
                    Err(error) => {
                        tracing::error!(%error, "could not check a reply address");
                        reply(&mut write, "451 4.3.0 Try again later").await?;
                    }
                }
            }
            "DATA" => {
                if recipients.is_empty() {
                    reply(&mut write, "503 5.5.1 No valid recipients").await?;
                    continue;
                }
                reply(&mut write, "354 End data with <CR><LF>.<CR><LF>").await?;
                let data =
                    tokio::time::timeout(DATA_TIMEOUT, read_data(&mut reader, max_bytes)).await;
                let answer = match data {
                    Err(_) => {
                        reply(&mut write, "421 4.4.2 Timeout, closing").await?;
                        return Ok(());
                    }
                    Ok(Err(error)) => return Err(error),
                    Ok(Ok(None)) => "552 5.3.4 Message too large".to_owned(),
                    Ok(Ok(Some(raw))) => match app.receive_email(&raw, &recipients).await {
                        Ok(InboundOutcome::UnknownAddress) => {
                            "550 5.1.1 No such reply address here".to_owned()
                        }
                        Ok(outcome) => format!("250 2.0.0 OK: {}", outcome.as_str()),
                        Err(error) => {
                            tracing::error!(%error, "could not take a reply by e-mail");
                            "451 4.3.0 Try again later".to_owned()
                        }
                    },
                };
                sender = None;
                recipients.clear();
                reply(&mut write, &answer).await?;
            }
            "RSET" => {
                sender = None;
                recipients.clear();
                reply(&mut write, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(&mut write, "250 2.0.0 OK").await?,
            "VRFY" => reply(&mut write, "252 2.1.5 Cannot verify, send it").await?,
            "QUIT" => {
                reply(&mut write, "221 2.0.0 Bye").await?;
                return Ok(());
            }
            _ => reply(&mut write, "502 5.5.2 Command not implemented").await?,
        }
    }
}

/// Writes one reply (its lines already joined with CRLF).
async fn reply<W: AsyncWrite + Unpin>(write: &mut W, text: &str) -> std::io::Result<()> {
    write.write_all(text.as_bytes()).await?;
    write.write_all(b"\r\n").await?;
    write.flush().await
}

/// A message's text up to the line with a lone dot, unstuffed; `None`
/// when it was larger than `max_bytes` (read to its end all the same).
async fn read_data<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    max_bytes: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut too_large = false;
    loop {
        let Some((line, _)) = read_line(reader, max_bytes.max(MAX_LINE)).await? else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the connection closed in DATA",
            ));
        };
        if line == b"." {
            return Ok((!too_large).then_some(data));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() + line.len() + 2 > max_bytes {
            too_large = true;
            data.clear();
            continue;
        }
        if !too_large {
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_from_mail_and_rcpt() {
        assert_eq!(
            path_of("FROM:<a@b.example> SIZE=10", "FROM:"),
            Some(("a@b.example", "SIZE=10"))
        );
        assert_eq!(
            path_of("to: <reply+x@r.example>", "TO:"),
            Some(("reply+x@r.example", ""))
        );
        assert_eq!(path_of("FROM:a@b", "FROM:"), None);
    }

    #[tokio::test]
    async fn dots_are_unstuffed_and_sizes_kept() {
        let input: &[u8] = b"Subject: x\r\n\r\n..hidden\r\nline\r\n.\r\n";
        let mut reader = BufReader::new(input);
        let data = read_data(&mut reader, 1000).await.unwrap().unwrap();
        assert_eq!(data, b"Subject: x\r\n\r\n.hidden\r\nline\r\n");
        let mut reader = BufReader::new(input);
        assert!(read_data(&mut reader, 10).await.unwrap().is_none());
    }
}
