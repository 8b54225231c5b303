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
        let client = self.client(communication.user_id, communication.department_id)?;
        let department = self
            .snapshot
            .departments
            .get(&communication.department_id)
            .unwrap_or(&self.no_policy);
        Some(Situation {
            communication_type: self.communication_type(communication.type_id),
            user: &client.user,
            availability: &client.availability,
            rules: &department.rules,
            counted,
            requested: communication.requested_source_id,
            favorites: &department.favorites,
            channels: &self.channels,
            given_up,
        })
    }
}
