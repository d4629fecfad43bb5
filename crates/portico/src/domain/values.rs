use std::fmt;

/// Why a value typed by a person was refused, in words for that person,
/// and the form field it is about (the `name` of the input), when there is
/// one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub message: String,
    pub field: Option<&'static str>,
}

impl ValidationError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: None,
        }
    }

    /// The same refusal, about the form field `field`.
    #[must_use]
    pub fn at(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
}

/// An e-mail address, trimmed and lower-cased so that one person has one
/// address whatever case they typed it in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let value = input.trim().to_lowercase();
        if value.is_empty() {
            return Err(ValidationError::new("Enter an e-mail address.").at("email"));
        }
        if value.len() > 254 {
            return Err(ValidationError::new("That e-mail address is too long.").at("email"));
        }
        let Some((local, domain)) = value.split_once('@') else {
            return Err(
                ValidationError::new("Enter an e-mail address like name@example.com.").at("email"),
            );
        };
        let domain_ok = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"@\\".contains(c));
        if !domain_ok || !local_ok {
            return Err(
                ValidationError::new("Enter an e-mail address like name@example.com.").at("email"),
            );
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mobile number in E.164 form (`+61412345678`): what SMS providers take.
/// People type it as they would dial it: in international form (`+61 412
/// 345 678`), or, where the practice's country is known, in its national
/// form (`0412 345 678`). Read and checked with libphonenumber's data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// A number in international form only.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        Self::parse_in(input, None)
    }

    /// A number in international form, or in the national form of
    /// `country` (an ISO 3166 code such as `AU`).
    pub fn parse_in(input: &str, country: Option<&str>) -> Result<Self, ValidationError> {
        let region = country.and_then(|c| c.parse::<phonenumber::country::Id>().ok());
        let refuse = || {
            let how = match country_name(country) {
                Some(name) => format!(
                    "Enter a mobile number as it is dialled in {name}, or in international format, starting with + and the country code (e.g. +61 412 345 678)."
                ),
                None => "Enter a mobile number in international format, starting with + and the country code, e.g. +61 412 345 678.".to_owned(),
            };
            ValidationError::new(how).at("phone")
        };
        let text = input.trim();
        if text.is_empty() || text.chars().count() > 40 || text.chars().any(char::is_alphabetic) {
            return Err(refuse());
        }
        let number = phonenumber::parse(region, text).map_err(|_| refuse())?;
        if !phonenumber::is_valid(&number) {
            return Err(refuse());
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Countries whose national phone numbers Portico reads, by the time zones
/// it offers: a practice's country follows from its time zone.
const ZONE_COUNTRIES: &[(&str, &str, &str)] = &[
    ("Australia/", "AU", "Australia"),
    ("Pacific/Auckland", "NZ", "New Zealand"),
    ("Pacific/Chatham", "NZ", "New Zealand"),
    ("Europe/London", "GB", "the United Kingdom"),
    ("Europe/Dublin", "IE", "Ireland"),
    ("Europe/Paris", "FR", "France"),
    ("Europe/Berlin", "DE", "Germany"),
    ("America/New_York", "US", "the United States"),
    ("America/Chicago", "US", "the United States"),
    ("America/Denver", "US", "the United States"),
    ("America/Phoenix", "US", "the United States"),
    ("America/Los_Angeles", "US", "the United States"),
    ("America/Anchorage", "US", "the United States"),
    ("Pacific/Honolulu", "US", "the United States"),
    ("America/Toronto", "CA", "Canada"),
    ("America/Vancouver", "CA", "Canada"),
    ("America/Edmonton", "CA", "Canada"),
    ("America/Winnipeg", "CA", "Canada"),
    ("America/Halifax", "CA", "Canada"),
    ("Asia/Singapore", "SG", "Singapore"),
    ("Asia/Kolkata", "IN", "India"),
];

/// The country (ISO 3166 code) whose national phone numbers a practice in
/// time zone `zone` types, when Portico knows it; else numbers must be
/// international.
pub fn country_of_time_zone(zone: &str) -> Option<&'static str> {
    ZONE_COUNTRIES
        .iter()
        .find(|(z, _, _)| {
            if z.ends_with('/') {
                zone.starts_with(z)
            } else {
                zone == *z
            }
        })
        .map(|(_, code, _)| *code)
}

/// A country's name, for sentences ("as it is dialled in Australia").
pub fn country_name(code: Option<&str>) -> Option<&'static str> {
    let code = code?;
    ZONE_COUNTRIES
        .iter()
        .find(|(_, c, _)| *c == code)
        .map(|(_, _, name)| *name)
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name of a person, a practice or a client: trimmed, not empty,
/// at most 200 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(ValidationError::new("Enter a name.").at("name"));
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(format!(
                "A name can be at most {} characters.",
                Self::MAX_CHARS
            ))
            .at("name"));
        }
        if value.chars().any(char::is_control) {
            return Err(
                ValidationError::new("A name cannot contain control characters.").at("name"),
            );
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A staff user's role in their practice (P1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Manages settings and staff.
    Admin,
    /// Works with clients.
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input.trim() {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(ValidationError::new("A role is either admin or member.").at("role")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a client record stands for (P2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKind {
    Business,
    Person,
    Matter,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Business => "business",
            ClientKind::Person => "person",
            ClientKind::Matter => "matter",
        }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input.trim() {
            "business" => Ok(ClientKind::Business),
            "person" => Ok(ClientKind::Person),
            "matter" => Ok(ClientKind::Matter),
            _ => Err(
                ValidationError::new("A client is a business, a person or a matter.").at("kind"),
            ),
        }
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole number typed in a form, within `range`: an optional sign and
/// digits, never wrapped or clipped; `message` otherwise.
pub fn bounded_integer(
    input: &str,
    range: std::ops::RangeInclusive<i64>,
    message: &str,
) -> Result<i64, ValidationError> {
    input
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ValidationError::new(message))
}

/// A time of day typed as `HH:MM` (`9:00`, `17:30`; a browser's time input
/// may add `:SS`, ignored): the minute of the day (0 to 1439). Hours 0 to 23
/// and minutes 0 to 59, each a bounded integer of one or two digits, so no
/// number can wrap around into a valid time.
pub fn time_of_day(input: &str) -> Result<i64, ValidationError> {
    let refuse = || ValidationError::new("Choose a time of day such as 09:00.");
    let parts: Vec<&str> = input.trim().split(':').collect();
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let (hours, minutes, seconds) = match parts.as_slice() {
        [h, m] => (*h, *m, "00"),
        [h, m, s] => (*h, *m, *s),
        _ => return Err(refuse()),
    };
    if !digits(hours, 1..=2) || !digits(minutes, 2..=2) || !digits(seconds, 2..=2) {
        return Err(refuse());
    }
    let hours = bounded_integer(hours, 0..=23, "").map_err(|_| refuse())?;
    let minutes = bounded_integer(minutes, 0..=59, "").map_err(|_| refuse())?;
    bounded_integer(seconds, 0..=59, "").map_err(|_| refuse())?;
    Ok(hours * 60 + minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised() {
        let e = EmailAddress::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn bad_emails_are_refused_with_a_sentence() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@ex..com",
            "ada@.com",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert!(err.message.starts_with("Enter"), "{bad}: {err}");
        }
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert_eq!(
            PhoneNumber::parse("+61 412 345 678").unwrap().as_str(),
            "+61412345678"
        );
        assert_eq!(
            PhoneNumber::parse("+1 (415) 555-2671").unwrap().as_str(),
            "+14155552671"
        );
        for bad in [
            "0412 345 678",
            "+0412345678",
            "+61",
            "+61 412 abc 678",
            "",
            "+1234567890123456",
            "+61 412 345",
        ] {
            let err = PhoneNumber::parse(bad).unwrap_err();
            assert!(err.message.contains("international format"), "{bad}");
            assert_eq!(err.field, Some("phone"));
        }
    }

    #[test]
    fn national_numbers_are_read_with_the_practices_country() {
        let au = Some("AU");
        assert_eq!(
            PhoneNumber::parse_in("0412 345 678", au).unwrap().as_str(),
            "+61412345678"
        );
        assert_eq!(
            PhoneNumber::parse_in("(04) 1234-5678", au)
                .unwrap()
                .as_str(),
            "+61412345678"
        );
        // International form still works, for any country.
        assert_eq!(
            PhoneNumber::parse_in("+44 7400 123456", au)
                .unwrap()
                .as_str(),
            "+447400123456"
        );
        assert_eq!(
            PhoneNumber::parse_in("07400 123456", Some("GB"))
                .unwrap()
                .as_str(),
            "+447400123456"
        );
        let err = PhoneNumber::parse_in("0412 345", au).unwrap_err();
        assert!(
            err.message.contains("as it is dialled in Australia"),
            "{err}"
        );
        assert!(PhoneNumber::parse_in("0412 345 678", None).is_err());
        assert_eq!(country_of_time_zone("Australia/Sydney"), Some("AU"));
        assert_eq!(country_of_time_zone("Europe/London"), Some("GB"));
        assert_eq!(country_of_time_zone("UTC"), None);
        assert_eq!(country_of_time_zone("Asia/Tokyo"), None);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"x".repeat(201)).is_err());
        assert!(Name::parse("bell\u{7}").is_err());
    }

    #[test]
    fn roles_and_kinds_parse_their_own_words_only() {
        assert_eq!(Role::parse("admin").unwrap(), Role::Admin);
        assert!(Role::parse("root").is_err());
        assert_eq!(ClientKind::parse("matter").unwrap(), ClientKind::Matter);
        assert!(ClientKind::parse("robot").is_err());
    }

    #[test]
    fn times_of_day_are_bounded_and_never_wrap() {
        assert_eq!(time_of_day("09:00"), Ok(540));
        assert_eq!(time_of_day(" 9:05 "), Ok(545));
        assert_eq!(time_of_day("23:59"), Ok(1439));
        assert_eq!(time_of_day("00:00"), Ok(0));
        assert_eq!(time_of_day("07:30:00"), Ok(450));
        for bad in [
            "24:00",
            "12:60",
            "307445734561825861:00",
            "-1:30",
            "9",
            "9:5",
            "09:000",
            "09:00:60",
            "1:2:3:4",
            "+9:00",
            "",
            "a:b",
        ] {
            assert!(time_of_day(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bounded_integers_refuse_what_is_outside_or_not_a_number() {
        assert_eq!(bounded_integer(" 7 ", 1..=365, "no"), Ok(7));
        for bad in ["0", "366", "99999999999999999999", "7.5", "seven", ""] {
            assert_eq!(
                bounded_integer(bad, 1..=365, "no").map_err(|e| e.message),
                Err("no".to_owned()),
                "{bad:?}"
            );
        }
    }
}
