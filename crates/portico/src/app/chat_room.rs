//! How a chat reads to the person looking at it: its title from the
//! reader's side, day separators and grouped messages, per-person receipts
//! in groups, "Olivia added Tom" lines, renamed groups, and the thumbnails
//! of the pictures shared in it.

use super::chats::ChatView;
use super::questions::Actor;
use super::spans::person;
use super::{App, AppError, AppResult};
use crate::delivery::live::LiveEvent;
use crate::domain::{ChatId, FileId, Millis, PracticeId};
use crate::store::{Chat, ChatSummary, FileMeta, Member, Message, Staff};
use tracing::instrument;

/// The longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 480;
/// The largest picture Portico decodes for a thumbnail: 12,000 pixels a
/// side and 256 MB of decoded pixels (a 64-megapixel photo fits).
const DECODE_MAX_SIDE: u32 = 12_000;
const DECODE_MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// A person's first name ("Hannah" for "Hannah Brooks").
fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

/// The chat's title as `me` sees it: a contact sees who she writes to
/// (never her own name), a team member the other person of a chat of two.
pub fn reader_title(chat: &Chat, me: Member, names: &[(Member, String)]) -> String {
    let name_of = |member: Member| {
        names
            .iter()
            .find(|(m, _)| *m == member)
            .map(|(_, n)| n.as_str())
    };
    if !chat.direct {
        // A chat of two team members is called after the other one.
        if chat.client_id.is_none() && names.len() == 2 && names.iter().any(|(m, _)| *m == me) {
            let other = names.iter().find(|(m, _)| *m != me);
            let mine = name_of(me).unwrap_or_default();
            if let Some((Member::Staff(_), other)) = other
                && (chat.title == format!("{mine} & {other}")
                    || chat.title == format!("{other} & {mine}"))
            {
                return other.clone();
            }
        }
        return chat.title.clone();
    }
    match me {
        Member::Staff(_) => chat.title.clone(),
        Member::Contact(_) => {
            let staff: Vec<&str> = names
                .iter()
                .filter(|(m, _)| matches!(m, Member::Staff(_)))
                .map(|(_, n)| n.as_str())
                .collect();
            let who = if staff.is_empty() {
                "Your practice".to_owned()
            } else {
                staff.join(", ")
            };
            // The stored title is "<contact> — <client>": the client part
            // tells apart chats about different clients.
            match chat.title.split_once(" — ") {
                Some((_, client)) => format!("{who} — {client}"),
                None => who,
            }
        }
    }
}

/// Every chat of a list titled from the reader's side; two chats that
/// would read the same are told apart by the team members in them.
pub fn reader_titles(chats: &mut [ChatSummary], me: Member, names: &[(ChatId, Member, String)]) {
    let of = |chat: ChatId| -> Vec<(Member, String)> {
        names
            .iter()
            .filter(|(c, _, _)| *c == chat)
            .map(|(_, m, n)| (*m, n.clone()))
            .collect()
    };
    for summary in chats.iter_mut() {
        summary.chat.title = reader_title(&summary.chat, me, &of(summary.chat.id));
    }
    let titles: Vec<String> = chats.iter().map(|c| c.chat.title.clone()).collect();
    for summary in chats.iter_mut() {
        if titles.iter().filter(|t| **t == summary.chat.title).count() < 2 {
            continue;
        }
        let others: Vec<String> = of(summary.chat.id)
            .into_iter()
            .filter(|(m, _)| *m != me && matches!(m, Member::Staff(_)))
            .map(|(_, n)| n)
            .collect();
        if !others.is_empty() {
            summary.chat.title = format!("{} · with {}", summary.chat.title, others.join(", "));
        }
    }
}

/// How a file shows in a chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileLook {
    /// A picture Portico can make a thumbnail of.
    Image,
    /// Sound, played in the page.
    Audio,
    /// Anything else: a card with its name, type and size.
    Card,
}

pub fn file_look(file: &FileMeta) -> FileLook {
    match file.content_type.as_str() {
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" => FileLook::Image,
        t if t.starts_with("audio/") => FileLook::Audio,
        _ => FileLook::Card,
    }
}

/// "PDF", "Word document", … for a file's card.
pub fn type_label(file: &FileMeta) -> String {
    let t = file.content_type.as_str();
    let label = match t {
        "application/pdf" => "PDF",
        "application/msword"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.oasis.opendocument.text" => "Document",
        "application/vnd.ms-excel"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.oasis.opendocument.spreadsheet" => "Spreadsheet",
        "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            "Presentation"
        }
        _ if t.starts_with("text/csv") => "CSV",
        _ if t.starts_with("text/") => "Text",
        _ if t.starts_with("image/") => "Picture",
        _ if t.starts_with("audio/") => "Voice note or sound",
        _ => "File",
    };
    label.to_owned()
}

/// The reader's calendar day of `at` (X15: in her own time zone).
fn day_key(time: &crate::local_time::Viewer, at: Millis) -> jiff::civil::Date {
    time.civil(at).date()
}

impl ChatView {
    /// The message before `m` on this page.
    fn before(&self, m: &Message) -> Option<&Message> {
        let at = self.messages.iter().position(|x| x.seq == m.seq)?;
        at.checked_sub(1).and_then(|i| self.messages.get(i))
    }

    /// "Today", "Yesterday" or the date, when `m` is the first message of
    /// its day on the page — days as the reader's clock has them.
    pub fn day_label(&self, m: &Message, time: &crate::local_time::Viewer) -> Option<String> {
        let day = day_key(time, m.created_at);
        if self
            .before(m)
            .is_some_and(|b| day_key(time, b.created_at) == day)
        {
            return None;
        }
        let today = day_key(time, self.now);
        Some(if day == today {
            "Today".to_owned()
        } else if Some(day) == today.yesterday().ok() {
            "Yesterday".to_owned()
        } else {
            day.strftime("%-d %B %Y").to_string()
        })
    }

    /// Whether `m` follows a message of the same sender on the same day
    /// (shown grouped with it, without the name again).
    pub fn continues(&self, m: &Message, time: &crate::local_time::Viewer) -> bool {
        self.before(m).is_some_and(|b| {
            b.sender == m.sender && day_key(time, b.created_at) == day_key(time, m.created_at)
        })
    }

    /// "staff:<id>" of a message's sender, for the page's grouping.
    pub fn sender_key(&self, m: &Message) -> String {
        format!("{}:{}", m.sender.kind(), m.sender.id())
    }

    /// Events shown before the first message of the page.
    pub fn events_before(&self) -> Vec<&crate::store::ChatEvent> {
        let first = self.messages.first().map_or(i64::MAX, |m| m.seq);
        self.events.iter().filter(|e| e.after_seq < first).collect()
    }

    /// Events that came right after message `seq`.
    pub fn events_after(&self, seq: &i64) -> Vec<&crate::store::ChatEvent> {
        self.events.iter().filter(|e| e.after_seq == *seq).collect()
    }

    pub fn look(&self, file: &FileMeta) -> &'static str {
        match file_look(file) {
            FileLook::Image => "image",
            FileLook::Audio => "audio",
            FileLook::Card => "card",
        }
    }

    pub fn type_of(&self, file: &FileMeta) -> String {
        type_label(file)
    }

    /// The receipt line for staff: per person in a chat of more than two
    /// ("Read by Hannah · not yet by Tom"), else whether the client read it.
    pub fn receipt_text(&self) -> Option<String> {
        if matches!(self.me, Member::Contact(_)) || self.chat.last_seq == 0 {
            return None;
        }
        if self.members.len() <= 2 {
            return self.receipt().map(str::to_owned);
        }
        let latest = self.chat.last_seq;
        // Who sent the latest message needs no receipt of it.
        let sender = self
            .messages
            .iter()
            .find(|m| m.seq == latest)
            .map(|m| m.sender);
        let mut read = Vec::new();
        let mut not_yet = Vec::new();
        for state in &self.members {
            if state.member == self.me || Some(state.member) == sender {
                continue;
            }
            let Some((_, name)) = self.names.iter().find(|(m, _)| *m == state.member) else {
                continue;
            };
            if state.last_read_seq >= latest {
                read.push(first_name(name));
            } else {
                not_yet.push(first_name(name));
            }
        }
        read.sort_unstable();
        not_yet.sort_unstable();
        let mut parts = Vec::new();
        if !read.is_empty() {
            parts.push(format!("Read by {}", read.join(", ")));
        }
        if !not_yet.is_empty() {
            let lead = if parts.is_empty() {
                "Not read yet by"
            } else {
                "not yet by"
            };
            parts.push(format!("{lead} {}", not_yet.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}

/// What a thumbnail could not be made from.
#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    #[error("not a picture Portico previews")]
    NotAPicture,
    #[error("the picture could not be read: {0}")]
    Unreadable(String),
}

/// A JPEG of at most [`THUMB_SIDE`] a side from a picture's bytes, its
/// size checked before anything is decoded and turned the way the camera
/// held it.
pub fn make_thumbnail(bytes: &[u8]) -> Result<Vec<u8>, ThumbError> {
    use image::ImageDecoder;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ThumbError::Unreadable(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(DECODE_MAX_SIDE);
    limits.max_image_height = Some(DECODE_MAX_SIDE);
    limits.max_alloc = Some(DECODE_MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| ThumbError::Unreadable(e.to_string()))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut picture = image::DynamicImage::from_decoder(decoder)
        .map_err(|e| ThumbError::Unreadable(e.to_string()))?;
    picture.apply_orientation(orientation);
    let small = picture.thumbnail(THUMB_SIDE, THUMB_SIDE).to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .map_err(|e| ThumbError::Unreadable(e.to_string()))?;
    Ok(out)
}

fn practice_and_member(actor: Actor<'_>) -> (PracticeId, Member, String) {
    (actor.practice_id(), actor.member(), actor.name().to_owned())
}

impl App {
    /// The thumbnail of a picture shared in a chat (or a question), for
    /// someone who may see the file: made once, then kept in the file store
    /// next to the original.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), file = %id
    ))]
    pub async fn thumbnail(&self, actor: Actor<'_>, id: FileId) -> AppResult<Vec<u8>> {
        let file = self.file_for(actor, id).await?;
        if file_look(&file) != FileLook::Image {
            return Err(AppError::NotFound);
        }
        let key = format!("{}.thumb", file.storage_key);
        if let Some(bytes) = self.files.read_small(&key, 4 * 1024 * 1024).await? {
            return Ok(bytes);
        }
        let max = usize::try_from(self.files.max_bytes()).unwrap_or(usize::MAX);
        let original = self
            .files
            .read_small(&file.storage_key, max)
            .await?
            .ok_or(AppError::NotFound)?;
        let made = tokio::task::spawn_blocking(move || make_thumbnail(&original))
            .await
            .map_err(|e| AppError::File(crate::files::FileError::Storage(e.to_string())))?;
        let thumb = match made {
            Ok(thumb) => thumb,
            Err(error) => {
                tracing::info!(%error, file = %file.id, "no thumbnail for a picture");
                return Err(AppError::conflict(
                    "This picture has no preview: download it to see it.",
                ));
            }
        };
        self.files.write_small(&key, thumb.clone()).await?;
        Ok(thumb)
    }

    /// Renames a group chat; its members see "Olivia renamed the chat".
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat
    ))]
    pub async fn rename_chat(&self, actor: &Staff, chat: ChatId, title: &str) -> AppResult<()> {
        let chat = self
            .store
            .chat_for_member(actor.practice_id, chat, Member::Staff(actor.id))
            .await?;
        if chat.direct {
            return Err(AppError::conflict(
                "A direct chat is called after the people in it: add people to make it a group first.",
            ));
        }
        let title = crate::domain::Name::parse(title)?;
        self.store
            .rename_chat(actor.practice_id, chat.id, title.as_str())
            .await?;
        self.chat_event(
            actor.practice_id,
            chat.id,
            &format!("{} renamed the chat “{}”", actor.name, title.as_str()),
        )
        .await
    }

    /// Records a line such as "Olivia added Tom" in a chat and tells the
    /// pages open on it.
    pub async fn chat_event(
        &self,
        practice: PracticeId,
        chat: ChatId,
        text: &str,
    ) -> AppResult<()> {
        self.store
            .add_chat_event(practice, chat, text, self.clock.now())
            .await?;
        let members = self.store.chat_members(practice, chat).await?;
        self.live.publish(
            practice,
            members.iter().map(|m| m.member).collect(),
            LiveEvent::Changed { chat, seq: None },
        );
        Ok(())
    }

    /// "Olivia added Tom and Hannah" (names looked up in the chat).
    pub async fn note_members_added(
        &self,
        actor: &Staff,
        chat: ChatId,
        added: &[Member],
    ) -> AppResult<()> {
        if added.is_empty() {
            return Ok(());
        }
        let names = self
            .store
            .chat_member_names(actor.practice_id, chat)
            .await?;
        let added: Vec<&str> = added
            .iter()
            .filter_map(|a| names.iter().find(|(m, _)| m == a).map(|(_, n)| n.as_str()))
            .collect();
        if added.is_empty() {
            return Ok(());
        }
        self.chat_event(
            actor.practice_id,
            chat,
            &format!("{} added {}", actor.name, and_list(&added)),
        )
        .await
    }

    /// The name of a member, before taking them out of a chat.
    pub async fn member_name(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        member: Member,
    ) -> AppResult<Option<String>> {
        let (practice, _, _) = practice_and_member(actor);
        Ok(self
            .store
            .chat_member_names(practice, chat)
            .await?
            .into_iter()
            .find(|(m, _)| *m == member)
            .map(|(_, n)| n))
    }
}

/// "Tom", "Tom and Hannah", "Tom, Hannah and Ava".
fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_sentences() {
        assert_eq!(and_list(&["Tom"]), "Tom");
        assert_eq!(and_list(&["Tom", "Ava"]), "Tom and Ava");
        assert_eq!(and_list(&["Tom", "Ava", "Hannah"]), "Tom, Ava and Hannah");
    }

    fn chat(direct: bool, title: &str) -> Chat {
        Chat {
            id: ChatId::new(),
            practice_id: PracticeId::new(),
            direct,
            title: title.to_owned(),
            client_id: None,
            last_seq: 1,
            last_message_at: Millis(0),
        }
    }

    #[test]
    fn titles_read_from_the_readers_side_and_alike_chats_are_told_apart() {
        let hannah = Member::Contact(crate::domain::ContactId::new());
        let olivia = Member::Staff(crate::domain::StaffId::new());
        let marcus = Member::Staff(crate::domain::StaffId::new());
        let names = vec![
            (hannah, "Hannah Brooks".to_owned()),
            (olivia, "Olivia Hart".to_owned()),
        ];
        let direct = chat(true, "Hannah Brooks — Northwind Bakery");
        assert_eq!(
            reader_title(&direct, hannah, &names),
            "Olivia Hart — Northwind Bakery"
        );
        assert_eq!(reader_title(&direct, olivia, &names), direct.title);
        let pair = chat(false, "Olivia Hart & Marcus Lee");
        let pair_names = vec![
            (olivia, "Olivia Hart".to_owned()),
            (marcus, "Marcus Lee".to_owned()),
        ];
        assert_eq!(reader_title(&pair, olivia, &pair_names), "Marcus Lee");
        assert_eq!(reader_title(&pair, marcus, &pair_names), "Olivia Hart");

        // Two direct chats with Hannah about the bakery, one shared by Marcus.
        let mine = chat(true, "Hannah Brooks — Northwind Bakery");
        let shared = chat(true, "Hannah Brooks — Northwind Bakery");
        let mut list = vec![
            ChatSummary {
                chat: mine.clone(),
                unread: 0,
                unread_more: false,
                starred: false,
                hidden: false,
                last_body: None,
                last_sender: None,
            },
            ChatSummary {
                chat: shared.clone(),
                unread: 0,
                unread_more: false,
                starred: false,
                hidden: false,
                last_body: None,
                last_sender: None,
            },
        ];
        let all = vec![
            (mine.id, olivia, "Olivia Hart".to_owned()),
            (mine.id, hannah, "Hannah Brooks".to_owned()),
            (shared.id, olivia, "Olivia Hart".to_owned()),
            (shared.id, marcus, "Marcus Lee".to_owned()),
            (shared.id, hannah, "Hannah Brooks".to_owned()),
        ];
        reader_titles(&mut list, olivia, &all);
        assert_eq!(list[0].chat.title, "Hannah Brooks — Northwind Bakery");
        assert_eq!(
            list[1].chat.title,
            "Hannah Brooks — Northwind Bakery · with Marcus Lee"
        );
    }

    #[test]
    fn a_picture_too_large_to_decode_is_refused_before_decoding() {
        // A PNG header claiming 60,000 × 60,000 pixels.
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&60_000u32.to_be_bytes());
        png.extend_from_slice(&60_000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert!(make_thumbnail(&png).is_err());
    }
}
