//! What a live update says: which deploy changed, how, and where, so each open
//! page can tell whether the change concerns it and refetch only that.

use super::{Deploy, DeployFilter, DeployId, DeployStatus, EnvironmentName, ServiceName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a deploy changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Registered,
    Status,
    /// The judge's verdict changed (a look moved it, or it turned final).
    Verdict,
    /// A person confirmed or rejected it as the cause of an incident.
    Cause,
}

/// One change to one deploy, as every open page hears of it (event `deploy` on
/// `/api/v1/events`, its data this as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployChange {
    pub kind: ChangeKind,
    pub deploy: DeployId,
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub status: DeployStatus,
    pub author: Option<String>,
    pub started_at: DateTime<Utc>,
}

impl DeployChange {
    pub fn of(kind: ChangeKind, deploy: &Deploy) -> Self {
        Self {
            kind,
            deploy: deploy.id,
            service: deploy.service.clone(),
            environment: deploy.environment.clone(),
            status: deploy.status,
            author: deploy.author.clone(),
            started_at: deploy.started_at,
        }
    }
}

/// Alerts were received (event `alerts` on `/api/v1/events`, its data this as JSON):
/// what shows alerts (the timeline, an incident's suspects) refetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsChange {
    /// How many alerts the notification carried.
    pub alerts: usize,
}

/// What happened to a lock, a freeze window or an override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockEvent {
    Locked,
    Unlocked,
    /// A break-glass override was granted.
    Override,
    /// A freeze window was created, changed or deleted.
    Freeze,
    /// An incident opened, moved or resolved: with stop-the-line on, it stops or
    /// frees deploys.
    Incident,
}

impl LockEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            LockEvent::Locked => "locked",
            LockEvent::Unlocked => "unlocked",
            LockEvent::Override => "override",
            LockEvent::Freeze => "freeze",
            LockEvent::Incident => "incident",
        }
    }
}

/// A change to what stops deploys, as every open page hears of it (event `lock` on
/// `/api/v1/events`): banners, the board and the locks page refetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockChange {
    pub event: LockEvent,
    /// The lock's, window's or override's id.
    pub id: i64,
    pub environment: Option<EnvironmentName>,
    pub service: Option<ServiceName>,
}

impl LockChange {
    pub fn of(event: LockEvent, lock: &super::Lock) -> Self {
        Self {
            event,
            id: lock.id,
            environment: lock.environment.clone(),
            service: lock.service.clone(),
        }
    }
}

impl DeployFilter {
    /// Whether the changed deploy, as it now stands, is one this filter selects:
    /// the same rules as the stores' history query.
    pub fn admits(&self, change: &DeployChange) -> bool {
        let author = match (&self.author, &change.author) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(wanted), Some(author)) => author.to_lowercase().contains(&wanted.to_lowercase()),
        };
        author
            && self.service.as_ref().is_none_or(|s| *s == change.service)
            && self
                .environment
                .as_ref()
                .is_none_or(|e| *e == change.environment)
            && self.status.is_none_or(|s| s == change.status)
            && self.since.is_none_or(|t| change.started_at >= t)
            && self.until.is_none_or(|t| change.started_at < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change() -> DeployChange {
        DeployChange {
            kind: ChangeKind::Registered,
            deploy: 7,
            service: ServiceName::parse("checkout").expect("name"),
            environment: EnvironmentName::parse("production").expect("name"),
            status: DeployStatus::InProgress,
            author: Some("Grace Hopper".into()),
            started_at: DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
                .expect("time")
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn a_filter_admits_what_its_history_would_show() {
        let c = change();
        let at = |s: &str| {
            Some(
                DateTime::parse_from_rfc3339(s)
                    .expect("time")
                    .with_timezone(&Utc),
            )
        };
        let yes = [
            DeployFilter::default(),
            DeployFilter {
                service: Some(c.service.clone()),
                ..Default::default()
            },
            DeployFilter {
                author: Some("hopper".into()),
                ..Default::default()
            },
            DeployFilter {
                status: Some(DeployStatus::InProgress),
                ..Default::default()
            },
            DeployFilter {
                since: at("2026-11-29T12:00:00Z"),
                until: at("2026-11-29T12:00:01Z"),
                ..Default::default()
            },
        ];
        let no = [
            DeployFilter {
                service: Some(ServiceName::parse("cart").expect("name")),
                ..Default::default()
            },
            DeployFilter {
                environment: Some(EnvironmentName::parse("staging").expect("name")),
                ..Default::default()
            },
            DeployFilter {
                author: Some("ada".into()),
                ..Default::default()
            },
            DeployFilter {
                status: Some(DeployStatus::Failed),
                ..Default::default()
            },
            DeployFilter {
                until: at("2026-11-29T12:00:00Z"),
                ..Default::default()
            },
        ];
        for f in yes {
            assert!(f.admits(&c), "{f:?}");
        }
        for f in no {
            assert!(!f.admits(&c), "{f:?}");
        }
    }

    #[test]
    fn a_change_travels_as_json() {
        let json = serde_json::to_string(&change()).expect("json");
        assert!(json.contains("\"kind\":\"registered\""), "{json}");
        assert_eq!(
            serde_json::from_str::<DeployChange>(&json).expect("back"),
            change()
        );
    }
}
