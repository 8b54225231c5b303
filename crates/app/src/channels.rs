//! Which provider serves each channel on this installation.

use std::collections::HashMap;
use std::sync::Arc;

use omnichannel_domain::ports::Provider;

/// The provider of each channel code. A code with no entry uses the default
/// provider (`log` on a new installation); an entry of `None` switches the
/// channel off.
#[derive(Clone)]
pub struct Channels {
    by_code: HashMap<String, Option<Arc<dyn Provider>>>,
    default: Arc<dyn Provider>,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut codes: Vec<_> = self
            .by_code
            .iter()
            .map(|(code, provider)| (code.as_str(), provider.is_some()))
            .collect();
        codes.sort_unstable();
        f.debug_struct("Channels").field("enabled", &codes).finish()
    }
}

impl Channels {
    pub fn new(default: Arc<dyn Provider>) -> Self {
        Self {
            by_code: HashMap::new(),
            default,
        }
    }

    /// The channel `code` uses `provider`; `None` switches it off.
    pub fn with(mut self, code: impl Into<String>, provider: Option<Arc<dyn Provider>>) -> Self {
        self.by_code.insert(code.into(), provider);
        self
    }

    /// The provider of the channel, unless it is switched off.
    pub fn provider(&self, code: &str) -> Option<Arc<dyn Provider>> {
        match self.by_code.get(code) {
            Some(provider) => provider.clone(),
            None => Some(self.default.clone()),
        }
    }

    pub fn is_enabled(&self, code: &str) -> bool {
        self.by_code.get(code).is_none_or(Option::is_some)
    }
}
