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
/// People may type spaces, dashes, dots and brackets; they are dropped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        let valid = !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
            && (8..=15).contains(&digits.len())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(compact))
        } else {
            Err(ValidationError::new(
                "Enter a mobile number in international format, starting with + and the country code, e.g. +61 412 345 678.",
            ).at("phone"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
            PhoneNumber::parse("+1 (555) 010-9999").unwrap().as_str(),
            "+15550109999"
        );
        for bad in [
            "0412 345 678",
            "+0412345678",
            "+61",
            "+61 412 abc 678",
            "",
            "+1234567890123456",
        ] {
            let err = PhoneNumber::parse(bad).unwrap_err();
            assert!(err.message.contains("international format"), "{bad}");
        }
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
}
