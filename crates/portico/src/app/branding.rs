//! X15: a practice's own look: its logo and accent colour, on its portal,
//! its team's pages and its e-mails. Admins change it; anyone may fetch it
//! (a logo in an e-mail is fetched without a session).

use super::sessions::ClientInfo;
use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::domain::{PracticeId, ValidationError};
use crate::store::Staff;
use tracing::instrument;

/// The largest logo accepted.
pub const MAX_LOGO_BYTES: usize = 512 * 1024;

/// A validated accent colour: `#rrggbb`, lower case, dark enough for
/// links and buttons on white (WCAG AA, 4.5:1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccentColour(String);

impl AccentColour {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim().to_ascii_lowercase();
        let hex = text.strip_prefix('#').unwrap_or(&text);
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ValidationError::new(
                "Enter the colour as # and six hexadecimal digits, such as #1f5f8b.",
            ));
        }
        let colour = AccentColour(format!("#{hex}"));
        if colour.contrast_with_white() < 4.5 {
            return Err(ValidationError::new(format!(
                "#{hex} is too light: white text on it and links in it would be hard to read. \
                 Choose a darker shade."
            )));
        }
        Ok(colour)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn channels(&self) -> [f64; 3] {
        let byte = |i: usize| {
            self.0
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .map_or(0.0, f64::from)
        };
        [byte(1), byte(3), byte(5)]
    }

    /// The WCAG contrast ratio of this colour against white.
    pub fn contrast_with_white(&self) -> f64 {
        let linear = |c: f64| {
            let c = c / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.channels().map(linear);
        let luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        1.05 / (luminance + 0.05)
    }
}

/// What a logo's bytes are, or why they are refused.
pub fn logo_type(bytes: &[u8]) -> Result<&'static str, ValidationError> {
    if bytes.is_empty() {
        return Err(ValidationError::new("Choose an image file for the logo."));
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(ValidationError::new(format!(
            "The logo is {} KB; at most {} KB is accepted.",
            bytes.len().div_ceil(1024),
            MAX_LOGO_BYTES / 1024
        )));
    }
    match infer::get(bytes).map(|kind| kind.mime_type()) {
        Some(mime @ ("image/png" | "image/jpeg" | "image/webp")) => Ok(mime),
        _ if looks_like_svg(bytes) => Err(ValidationError::new(
            "SVG logos are not accepted (an SVG can carry scripts). Upload a PNG, JPEG or WebP.",
        )),
        _ => Err(ValidationError::new(
            "The logo must be a PNG, JPEG or WebP image.",
        )),
    }
}

fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    head.contains("<svg") || head.trim_start().starts_with("<?xml")
}

/// A practice's logo as it is served.
#[derive(Clone, Debug)]
pub struct Logo {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl App {
    fn branding_admin(&self, actor: &Staff) -> AppResult<()> {
        if !actor.active || !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        Ok(())
    }

    /// Sets (or, with an empty text, removes) the practice's accent colour.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn set_accent_colour(
        &self,
        actor: &Staff,
        text: &str,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        self.branding_admin(actor)?;
        let colour = match text.trim() {
            "" => None,
            other => Some(AccentColour::parse(other).map_err(AppError::Invalid)?),
        };
        let entry = self
            .audit_entry(
                actor.practice_id,
                actor,
                crate::store::AuditKind::SettingsChanged,
                origin,
            )
            .on("practice", actor.practice_id)
            .detail("accent colour");
        Ok(self
            .store
            .set_accent_colour(
                actor.practice_id,
                colour.as_ref().map(AccentColour::as_str),
                &entry,
            )
            .await?)
    }

    /// Replaces the practice's logo, once its bytes are an accepted image.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn set_logo(
        &self,
        actor: &Staff,
        bytes: &[u8],
        origin: &ClientInfo,
    ) -> AppResult<()> {
        self.branding_admin(actor)?;
        let content_type = logo_type(bytes).map_err(AppError::Invalid)?;
        let entry = self
            .audit_entry(
                actor.practice_id,
                actor,
                crate::store::AuditKind::SettingsChanged,
                origin,
            )
            .on("practice", actor.practice_id)
            .detail("logo");
        Ok(self
            .store
            .set_logo(
                actor.practice_id,
                content_type,
                bytes,
                self.clock.now(),
                &entry,
            )
            .await?)
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn remove_logo(&self, actor: &Staff, origin: &ClientInfo) -> AppResult<()> {
        self.branding_admin(actor)?;
        let entry = self
            .audit_entry(
                actor.practice_id,
                actor,
                crate::store::AuditKind::SettingsChanged,
                origin,
            )
            .on("practice", actor.practice_id)
            .detail("logo removed");
        Ok(self.store.remove_logo(actor.practice_id, &entry).await?)
    }

    /// A practice's logo, for anyone (it is on its sign-in page and in its
    /// e-mails).
    #[instrument(skip_all, fields(practice = %practice))]
    pub async fn logo(&self, practice: PracticeId) -> AppResult<Option<Logo>> {
        Ok(self
            .store
            .logo(practice)
            .await?
            .map(|(content_type, bytes)| Logo {
                content_type,
                bytes,
            }))
    }

    /// A practice's accent colour, for its stylesheet.
    #[instrument(skip_all, fields(practice = %practice))]
    pub async fn accent_colour(&self, practice: PracticeId) -> AppResult<Option<AccentColour>> {
        let stored = match self.store.get_practice(practice).await {
            Ok(p) => p.accent_colour,
            Err(crate::store::StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Checked again on the way out: only a valid colour reaches CSS.
        Ok(stored.and_then(|c| AccentColour::parse(&c).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_six_hex_digits_and_dark_enough() {
        assert_eq!(
            AccentColour::parse(" #1F5F8B ").unwrap().as_str(),
            "#1f5f8b"
        );
        assert_eq!(AccentColour::parse("7a1f5c").unwrap().as_str(), "#7a1f5c");
        for bad in [
            "", "#12345", "#1234567", "red", "#1f5f8g", "#fff", "#123;}x{",
        ] {
            assert!(AccentColour::parse(bad).is_err(), "{bad}");
        }
        assert!(
            AccentColour::parse("#ffff00").is_err(),
            "yellow on white is unreadable"
        );
        assert!(
            AccentColour::parse("#000000")
                .unwrap()
                .contrast_with_white()
                > 20.0
        );
    }

    #[test]
    fn logos_are_raster_images_within_the_limit() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
        assert_eq!(logo_type(png).unwrap(), "image/png");
        assert_eq!(
            logo_type(b"\xff\xd8\xff\xe0\0\x10JFIF\0").unwrap(),
            "image/jpeg"
        );
        let svg = b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>x</script></svg>";
        assert!(logo_type(svg).unwrap_err().message.contains("SVG"));
        assert!(
            logo_type(b"<svg onload=alert(1)>")
                .unwrap_err()
                .message
                .contains("SVG")
        );
        assert!(logo_type(b"%PDF-1.7").is_err());
        assert!(logo_type(b"").is_err());
        let mut big = png.to_vec();
        big.resize(MAX_LOGO_BYTES + 1, 0);
        assert!(
            logo_type(&big)
                .unwrap_err()
                .message
                .contains("at most 512 KB")
        );
    }
}
