//! What a webhook delivery means for Houston's deploys: decided here, without IO.
//! An adapter (`server/src/http/github.rs`) only translates a source's payload
//! into a [`Delivery`]; [`plan_delivery`] decides whether it registers a deploy,
//! reports a status or is ignored, and [`delivery_action`] what the plan does to
//! the deploys stored. The store applies that in one transaction.

use super::{
    DeployId, DeployRequest, DeploySource, DeployStatus, NewDeploy, StatusChange, ValidationErrors,
    to_stored_precision,
};
use chrono::{DateTime, Utc};

/// A delivery in Houston's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// A check that the webhook works (GitHub's `ping`).
    Ping,
    /// An event Houston has no use for.
    Unused { event: String },
    /// A deploy began (GitHub's `deployment`).
    Started(DeployRequest),
    /// A status report about a deploy (GitHub's `deployment_status`), which
    /// carries the whole deploy: Houston may not have seen it begin.
    Reported {
        deploy: DeployRequest,
        report: StatusReport,
    },
}

/// A status as the source reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The source's own word for it (`success`, `inactive`, …), for messages.
    pub state: String,
    /// What it means for the deploy; `None` when it says nothing about how the
    /// deploy went (GitHub's `inactive`: a newer deploy replaced it).
    pub status: Option<DeployStatus>,
    pub at: DateTime<Utc>,
}

/// What to do with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryPlan {
    /// Nothing changes; the reason is answered to the sender.
    Ignore(String),
    /// Claim the delivery and do this, in one transaction.
    Apply(Box<DeliveryWork>),
}

/// What a delivery asks of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryWork {
    /// Register this deploy.
    Register(NewDeploy),
    /// Apply this status report to the deploy with `deploy.external_id`, or, when
    /// Houston has not seen that deploy, register it with the status.
    Status {
        deploy: NewDeploy,
        change: StatusChange,
    },
}

/// What the work does to the deploys stored, given the id of the stored deploy
/// with the work's external id (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryAction<'a> {
    Register(&'a NewDeploy),
    ChangeStatus { id: DeployId, change: StatusChange },
}

/// Decides what a delivery from `source` means. Every deploy it carries passes the
/// same parsing as an API registration (`DeployRequest::parse_as`).
pub fn plan_delivery(
    delivery: &Delivery,
    source: DeploySource,
    now: DateTime<Utc>,
) -> Result<DeliveryPlan, ValidationErrors> {
    match delivery {
        Delivery::Ping => Ok(DeliveryPlan::Ignore("pong: the webhook is set up".into())),
        Delivery::Unused { event } => Ok(DeliveryPlan::Ignore(format!(
            "Houston does not use {event:?} events; send deployment and deployment_status"
        ))),
        Delivery::Started(request) => {
            let mut request = request.clone();
            request.status = Some(DeployStatus::InProgress.as_str().into());
            request.finished_at = None;
            Ok(DeliveryPlan::Apply(Box::new(DeliveryWork::Register(
                request.parse_as(now, source)?,
            ))))
        }
        Delivery::Reported { deploy, report } => {
            let Some(status) = report.status else {
                return Ok(DeliveryPlan::Ignore(format!(
                    "deployment state {:?} says nothing about the deploy",
                    report.state
                )));
            };
            let mut request = deploy.clone();
            request.status = Some(DeployStatus::InProgress.as_str().into());
            request.finished_at = None;
            let mut new = request.parse_as(now, source)?;
            // The same clock rule as a start time: a report from the future is a
            // clock or time-zone mistake.
            if report.at > now + chrono::Duration::minutes(10) {
                return Err(ValidationErrors(vec![super::FieldError::new(
                    "deployment_status.created_at",
                    "lies in the future; check the clock and time zone of the sender",
                )]));
            }
            // Clocks differ between a source's machines: a report never finishes a
            // deploy before it began.
            let at = to_stored_precision(report.at).max(new.started_at);
            new.status = status;
            new.finished_at = status.is_finished().then_some(at);
            Ok(DeliveryPlan::Apply(Box::new(DeliveryWork::Status {
                deploy: new,
                change: StatusChange {
                    status,
                    finished_at: at,
                },
            })))
        }
    }
}

/// What `work` does, given `existing`, the stored deploy with its external id: a
/// status report about a deploy Houston has not seen registers it with that status.
pub fn delivery_action(work: &DeliveryWork, existing: Option<DeployId>) -> DeliveryAction<'_> {
    match (work, existing) {
        (DeliveryWork::Register(new), _) => DeliveryAction::Register(new),
        (DeliveryWork::Status { change, .. }, Some(id)) => DeliveryAction::ChangeStatus {
            id,
            change: *change,
        },
        (DeliveryWork::Status { deploy, .. }, None) => DeliveryAction::Register(deploy),
    }
}

impl DeliveryWork {
    /// The deploy the work is about.
    pub fn deploy(&self) -> &NewDeploy {
        match self {
            DeliveryWork::Register(deploy) | DeliveryWork::Status { deploy, .. } => deploy,
        }
    }

    /// The deploy the work is about, to say what the gate said of it.
    pub fn deploy_mut(&mut self) -> &mut NewDeploy {
        match self {
            DeliveryWork::Register(deploy) | DeliveryWork::Status { deploy, .. } => deploy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    fn request() -> DeployRequest {
        DeployRequest {
            service: Some("checkout".into()),
            environment: Some("production".into()),
            version: Some("abc123".into()),
            started_at: Some("2026-11-29T11:00:00Z".into()),
            external_id: Some("github:acme/checkout#7".into()),
            ..Default::default()
        }
    }

    /// The work a plan applies.
    fn work(plan: Result<DeliveryPlan, ValidationErrors>) -> DeliveryWork {
        match plan {
            Ok(DeliveryPlan::Apply(work)) => *work,
            other => panic!("expected work, got {other:?}"),
        }
    }

    fn reported(state: &str, status: Option<DeployStatus>, at: &str) -> Delivery {
        Delivery::Reported {
            deploy: request(),
            report: StatusReport {
                state: state.into(),
                status,
                at: DateTime::parse_from_rfc3339(at)
                    .expect("time")
                    .with_timezone(&Utc),
            },
        }
    }

    #[test]
    fn pings_unused_events_and_silent_states_change_nothing() {
        let github = DeploySource::GithubWebhook;
        for delivery in [
            Delivery::Ping,
            Delivery::Unused {
                event: "push".into(),
            },
            reported("inactive", None, "2026-11-29T11:30:00Z"),
        ] {
            assert!(
                matches!(
                    plan_delivery(&delivery, github, now()),
                    Ok(DeliveryPlan::Ignore(_))
                ),
                "{delivery:?}"
            );
        }
    }

    #[test]
    fn a_start_registers_in_progress_and_a_report_carries_its_status() {
        let github = DeploySource::GithubWebhook;
        let DeliveryWork::Register(new) =
            work(plan_delivery(&Delivery::Started(request()), github, now()))
        else {
            panic!("a start registers");
        };
        assert_eq!(
            (new.status, new.finished_at, new.source),
            (DeployStatus::InProgress, None, github)
        );

        let DeliveryWork::Status { deploy, change } = work(plan_delivery(
            &reported(
                "success",
                Some(DeployStatus::Succeeded),
                "2026-11-29T11:10:00Z",
            ),
            github,
            now(),
        )) else {
            panic!("a report applies");
        };
        assert_eq!(deploy.status, DeployStatus::Succeeded);
        assert_eq!(deploy.finished_at, Some(change.finished_at));
        assert_eq!(change.finished_at.to_rfc3339(), "2026-11-29T11:10:00+00:00");
    }

    #[test]
    fn a_report_from_a_clock_behind_never_finishes_before_the_start() {
        let DeliveryWork::Status { deploy, change } = work(plan_delivery(
            &reported(
                "failure",
                Some(DeployStatus::Failed),
                "2026-11-29T10:59:58Z",
            ),
            DeploySource::GithubWebhook,
            now(),
        )) else {
            panic!("a report applies");
        };
        assert_eq!(change.finished_at, deploy.started_at);
    }

    #[test]
    fn a_report_from_the_future_is_refused() {
        let plan = plan_delivery(
            &reported(
                "success",
                Some(DeployStatus::Succeeded),
                "2026-11-29T13:00:00Z",
            ),
            DeploySource::GithubWebhook,
            now(),
        );
        assert!(plan.is_err(), "{plan:?}");
    }

    #[test]
    fn deliveries_pass_the_same_rules_as_the_api() {
        let mut bad = request();
        bad.version = Some("has spaces".into());
        assert!(
            plan_delivery(&Delivery::Started(bad), DeploySource::GithubWebhook, now()).is_err()
        );
        // An API caller cannot pose as the webhook's id namespace; the webhook can.
        assert!(plan_delivery(&Delivery::Started(request()), DeploySource::Api, now()).is_err());
    }

    #[test]
    fn a_report_about_an_unseen_deploy_registers_it() {
        let work = work(plan_delivery(
            &reported(
                "success",
                Some(DeployStatus::Succeeded),
                "2026-11-29T11:10:00Z",
            ),
            DeploySource::GithubWebhook,
            now(),
        ));
        assert!(
            matches!(delivery_action(&work, None), DeliveryAction::Register(d) if d.status == DeployStatus::Succeeded)
        );
        assert!(matches!(
            delivery_action(&work, Some(7)),
            DeliveryAction::ChangeStatus { id: 7, change } if change.status == DeployStatus::Succeeded
        ));
    }
}
