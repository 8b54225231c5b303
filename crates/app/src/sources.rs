//! The communication-source (channel) dictionary.

use std::sync::Arc;

use omnichannel_domain::ports::{Clock, CommunicationSourceRepository, Page, Paged};
use omnichannel_domain::{CommunicationSource, SourceId, SourceKind, ValidationErrors};

use crate::dictionary::{EntryInput, EntryPatch, parse_entry, patch_entry};
use crate::error::{CreateError, DeleteError, GetError, ListError, UpdateError, deleted, updated};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewSource {
    pub entry: EntryInput,
    /// Which address of the client the channel uses.
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourcePatch {
    pub entry: EntryPatch,
    pub kind: Option<String>,
}

pub struct Sources {
    repo: Arc<dyn CommunicationSourceRepository>,
    clock: Arc<dyn Clock>,
}

impl Sources {
    pub fn new(repo: Arc<dyn CommunicationSourceRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    pub fn create(&self, input: NewSource) -> Result<CommunicationSource, CreateError> {
        let mut errors = ValidationErrors::new();
        let entry = parse_entry(&mut errors, input.entry);
        let kind = errors.check("kind", SourceKind::parse(&input.kind));
        let (Some((code, name, status)), Some(kind)) = (entry, kind) else {
            return Err(CreateError::Invalid(errors));
        };
        let now = self.clock.now();
        let item = CommunicationSource {
            id: SourceId::generate(),
            code,
            name,
            kind,
            status,
            created_at: now,
            updated_at: now,
        };
        self.repo.insert(&item)?;
        Ok(item)
    }

    pub fn get(&self, id: SourceId) -> Result<CommunicationSource, GetError> {
        self.repo.get(id)?.ok_or(GetError::NotFound)
    }

    pub fn list(&self, page: Page) -> Result<Paged<CommunicationSource>, ListError> {
        Ok(self.repo.list(page)?)
    }

    pub fn update(
        &self,
        id: SourceId,
        patch: SourcePatch,
    ) -> Result<CommunicationSource, UpdateError> {
        let mut item = self.get(id)?;
        let mut errors = ValidationErrors::new();
        patch_entry(
            &mut errors,
            patch.entry,
            &mut item.code,
            &mut item.name,
            &mut item.status,
        );
        if let Some(kind) = patch
            .kind
            .and_then(|v| errors.check("kind", SourceKind::parse(&v)))
        {
            item.kind = kind;
        }
        if !errors.is_empty() {
            return Err(UpdateError::Invalid(errors));
        }
        item.updated_at = self.clock.now();
        updated(self.repo.update(&item)?)?;
        Ok(item)
    }

    pub fn delete(&self, id: SourceId) -> Result<(), DeleteError> {
        deleted(self.repo.delete(id)?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use omnichannel_domain::ports::{MockClock, MockCommunicationSourceRepository, RepoError};

    use super::*;

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        Arc::new(clock)
    }

    #[test]
    fn create_needs_a_known_kind() {
        let mut repo = MockCommunicationSourceRepository::new();
        repo.expect_insert()
            .withf(|s| s.kind == SourceKind::Webhook)
            .times(1)
            .returning(|_| Ok(()));
        let sources = Sources::new(Arc::new(repo), clock());
        let entry = EntryInput {
            code: "crm_hook".into(),
            name: "CRM hook".into(),
            status: None,
        };
        let webhook = NewSource {
            entry: entry.clone(),
            kind: "webhook".into(),
        };
        assert!(sources.create(webhook).is_ok());
        let fax = NewSource {
            entry,
            kind: "fax".into(),
        };
        assert!(matches!(
            sources.create(fax),
            Err(CreateError::Invalid(e)) if e.errors()[0].field == "kind"
        ));
    }

    #[test]
    fn a_taken_code_is_a_conflict() {
        let mut repo = MockCommunicationSourceRepository::new();
        repo.expect_insert()
            .returning(|_| Err(RepoError::Conflict("code")));
        let sources = Sources::new(Arc::new(repo), clock());
        let sms = NewSource {
            entry: EntryInput {
                code: "sms".into(),
                name: "SMS".into(),
                status: None,
            },
            kind: "sms".into(),
        };
        assert!(matches!(
            sources.create(sms),
            Err(CreateError::Conflict("code"))
        ));
    }
}
