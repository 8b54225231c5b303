//! What the two dictionaries (types and sources) share: a code, a name and a status.

use omnichannel_domain::{Code, DictionaryStatus, Name, ValidationErrors};

/// The shared fields of a new entry, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryInput {
    pub code: String,
    pub name: String,
    /// `active` when left out.
    pub status: Option<String>,
}

/// A partial update of the shared fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryPatch {
    pub code: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
}

pub(crate) fn parse_entry(
    errors: &mut ValidationErrors,
    input: EntryInput,
) -> Option<(Code, Name, DictionaryStatus)> {
    let code = errors.check("code", Code::parse(input.code));
    let name = errors.check("name", Name::parse(input.name));
    let status = match input.status {
        Some(status) => errors.check("status", DictionaryStatus::parse(&status)),
        None => Some(DictionaryStatus::Active),
    };
    Some((code?, name?, status?))
}

pub(crate) fn patch_entry(
    errors: &mut ValidationErrors,
    patch: EntryPatch,
    code: &mut Code,
    name: &mut Name,
    status: &mut DictionaryStatus,
) {
    if let Some(value) = patch
        .code
        .and_then(|v| errors.check("code", Code::parse(v)))
    {
        *code = value;
    }
    if let Some(value) = patch
        .name
        .and_then(|v| errors.check("name", Name::parse(v)))
    {
        *name = value;
    }
    if let Some(value) = patch
        .status
        .and_then(|v| errors.check("status", DictionaryStatus::parse(&v)))
    {
        *status = value;
    }
}
