//! The decision's inputs, read from a policy snapshot: one place that turns
//! what storage loaded into a `Situation`, for booking and dispatch alike.

use omnichannel_domain::decision::{Channel, Counted, Situation};
use omnichannel_domain::ports::{ClientPolicy, DepartmentPolicy, PolicySnapshot};
use omnichannel_domain::{
    Communication, CommunicationSource, CommunicationType, DepartmentId, SourceId, TypeId, UserId,
};

use crate::channels::Channels;

/// A snapshot with every channel's state on this installation.
pub(crate) struct PolicyView<'a> {
    snapshot: &'a PolicySnapshot,
    channels: Vec<Channel<'a>>,
    no_policy: DepartmentPolicy,
}

impl<'a> PolicyView<'a> {
    pub(crate) fn new(snapshot: &'a PolicySnapshot, providers: &Channels) -> Self {
        let channels = snapshot
            .sources
            .iter()
            .map(|source| Channel {
                source,
                enabled: providers.is_enabled(source.code.as_str()),
            })
            .collect();
        Self {
            snapshot,
            channels,
            no_policy: DepartmentPolicy::default(),
        }
    }

    pub(crate) fn client(
        &self,
        user: UserId,
        department: DepartmentId,
    ) -> Option<&'a ClientPolicy> {
        self.snapshot.clients.get(&(user, department))
    }

    pub(crate) fn communication_type(&self, id: TypeId) -> Option<&'a CommunicationType> {
        self.snapshot.types.iter().find(|t| t.id == id)
    }

    pub(crate) fn source(&self, id: SourceId) -> Option<&'a CommunicationSource> {
        self.snapshot.sources.iter().find(|s| s.id == id)
    }

    /// The situation of `communication`, counting `counted` for its client;
    /// `None` when its client is not in the snapshot.
    pub(crate) fn situation<'s>(
        &'s self,
        communication: &Communication,
        counted: &'s [Counted],
        given_up: &'s [SourceId],
    ) -> Option<Situation<'s>> {
        self.client_situation(
            communication.user_id,
            communication.department_id,
            Some(communication.type_id),
            communication.requested_source_id,
            counted,
            given_up,
        )
    }

    /// The situation of the client in the department, for a communication of
    /// `type_id` (`None`: every rule applies) on `requested` or the
    /// favourites; `None` when the client is not in the snapshot.
    pub(crate) fn client_situation<'s>(
        &'s self,
        user: UserId,
        department: DepartmentId,
        type_id: Option<TypeId>,
        requested: Option<SourceId>,
        counted: &'s [Counted],
        given_up: &'s [SourceId],
    ) -> Option<Situation<'s>> {
        let client = self.client(user, department)?;
        let policy = self
            .snapshot
            .departments
            .get(&department)
            .unwrap_or(&self.no_policy);
        Some(Situation {
            communication_type: type_id.and_then(|id| self.communication_type(id)),
            user: &client.user,
            availability: &client.availability,
            rules: &policy.rules,
            counted,
            requested,
            favorites: &policy.favorites,
            channels: &self.channels,
            given_up,
        })
    }

    /// The counted moments of the client in the department.
    pub(crate) fn counted(&self, user: UserId, department: DepartmentId) -> &'a [Counted] {
        self.client(user, department)
            .map(|client| client.counted.as_slice())
            .unwrap_or_default()
    }
}
