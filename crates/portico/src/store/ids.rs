//! The id types as sqlx binds and reads them: stored as their text (a
//! hyphenated, lower-case UUID in a `TEXT` column) on both engines, so a
//! query binds an id itself, never its `to_string()`.

use crate::domain::{
    ChatId, ClientId, ContactId, EntryId, FileId, MessageId, PracticeId, QuestionId, StaffId,
    WebhookId,
};
use sqlx::any::{Any, AnyTypeInfo, AnyValueRef};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

macro_rules! text_id {
    ($($name:ident),* $(,)?) => {$(
        impl Type<Any> for $name {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }
        }

        impl Encode<'_, Any> for $name {
            fn encode_by_ref(&self, buf: &mut <Any as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <String as Encode<'_, Any>>::encode(self.to_string(), buf)
            }
        }

        impl<'r> Decode<'r, Any> for $name {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&str as Decode<'r, Any>>::decode(value)?.parse()?)
            }
        }
    )*};
}

text_id!(
    PracticeId, StaffId, ClientId, ContactId, QuestionId, EntryId, FileId, ChatId, MessageId,
    WebhookId,
);
