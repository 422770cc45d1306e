//! Server functions for incidents and the timeline: the incident reviewer's pages.

use crate::api::AsOf;
use crate::domain::{Incident, Timeline, TimelineQuery};
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// An incident with the deploys suspected of causing it, most suspect first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    pub incident: Incident,
    pub window_minutes: i64,
    pub suspects: Vec<crate::domain::Suspect>,
}

/// A timeline view as its page shows it: the view without its lanes and ticks, and
/// the chart drawn from them on the server once per view (SVG markup), so neither the
/// page's data nor the browser's code carries the marks twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineScreen {
    pub view: Timeline,
    pub chart: Chart,
}

/// A timeline's chart as SVG markup. Written out in full, except in the data of the
/// page whose markup already holds it (`in_page`): the browser keeps what the server
/// drew, and takes the markup only with a view read later.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    pub markup: String,
    pub in_page: bool,
}

impl Serialize for Chart {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.in_page { "" } else { &self.markup })
    }
}

impl<'de> Deserialize<'de> for Chart {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Chart {
            markup: String::deserialize(deserializer)?,
            in_page: false,
        })
    }
}

/// Incidents, newest opened first; `open`: only those not resolved.
#[server(endpoint = "incidents")]
pub async fn list_incidents(open: bool) -> Result<AsOf<Vec<Incident>>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        Ok(AsOf::now(call.store.list_incidents(open, 100).await?))
    })
    .await
}

/// One incident and its suspects (the deploys of the six hours before it).
#[server(endpoint = "incident")]
pub async fn get_incident(id: i64) -> Result<AsOf<IncidentView>, AppError> {
    use crate::server::access::Need;
    crate::server::serve(Need::Read, move |call| async move {
        let read = crate::server::page_cache()
            .suspects(
                &call.store,
                id,
                crate::domain::SUSPECT_WINDOW,
                // The page reads again when it hears of a change: it must show it.
                crate::server::Freshness::Current,
                chrono::Utc::now(),
            )
            .await?;
        Ok(AsOf::now(IncidentView {
            incident: read.incident.clone(),
            window_minutes: read.window_minutes,
            suspects: read.suspects.clone(),
        }))
    })
    .await
}

/// A person's word on a suspect: `confirmed` (it caused the incident) or
/// `rejected`. Audited; the deploy's pages hear of it.
#[server(endpoint = "decide-incident-cause")]
pub async fn decide_incident_cause(
    incident: i64,
    deploy: i64,
    decision: String,
    note: Option<String>,
) -> Result<(), AppError> {
    use houston_service::incidents;
    crate::server::serve(incidents::NEED, move |call| async move {
        let request = crate::domain::CauseRequest {
            decision: Some(decision),
            note: note.filter(|n| !n.trim().is_empty()),
        };
        let done = incidents::decide_cause(
            call.store.as_ref(),
            &call.caller.actor(),
            incident,
            deploy,
            &request,
            chrono::Utc::now(),
        )
        .await?;
        crate::server::publish(done.change);
        Ok(())
    })
    .await
}

/// Declares an incident by hand: its title, severity and the places it touches
/// (comma-separated; none: all). Audited as `incident.open`; answers its id.
#[server(endpoint = "declare-incident")]
pub async fn declare_incident(
    title: String,
    severity: String,
    services: String,
    environments: String,
) -> Result<i64, AppError> {
    use houston_service::incidents;
    crate::server::serve(incidents::NEED, move |call| async move {
        let list = |raw: &str| {
            let names: Vec<String> = raw
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect();
            (!names.is_empty()).then_some(names)
        };
        let request = crate::domain::IncidentRequest {
            title: Some(title),
            severity: Some(severity),
            services: list(&services),
            environments: list(&environments),
            ..Default::default()
        };
        let now = chrono::Utc::now();
        let source = crate::domain::IncidentSource::Declared;
        let fresh = || crate::domain::fresh_incident_id(source, now);
        let report = request.parse(crate::domain::IncidentSource::Declared, fresh, now)?;
        let done =
            incidents::record(call.store.as_ref(), &call.caller.actor(), &report, now).await?;
        crate::server::publish(done.change);
        Ok(done.value.incident.id)
    })
    .await
}

/// Moves an incident declared in Houston to `acknowledged` or `resolved` (one from
/// an incident tool moves when its tool says so). Audited.
#[server(endpoint = "move-incident")]
pub async fn move_incident(id: i64, state: String) -> Result<(), AppError> {
    use houston_service::incidents;
    crate::server::serve(incidents::NEED, move |call| async move {
        let incident = call.store.get_incident(id).await?;
        if incident.source != crate::domain::IncidentSource::Declared {
            return Err(AppError::validation(
                "state",
                format!(
                    "incident {id} comes from {}: it moves when its tool says so",
                    incident.source.as_str()
                ),
            ));
        }
        let request = crate::domain::IncidentRequest {
            id: Some(incident.external_id.clone()),
            title: Some(incident.title.clone()),
            severity: Some(incident.severity.as_str().to_owned()),
            state: Some(state),
            services: Some(incident.services.iter().map(|s| s.to_string()).collect()),
            environments: Some(
                incident
                    .environments
                    .iter()
                    .map(|e| e.to_string())
                    .collect(),
            ),
            url: incident.link.clone(),
            at: None,
        };
        let now = chrono::Utc::now();
        let report = request.parse(crate::domain::IncidentSource::Declared, String::new, now)?;
        let done =
            incidents::record(call.store.as_ref(), &call.caller.actor(), &report, now).await?;
        crate::server::publish(done.change);
        Ok(())
    })
    .await
}

/// The timeline view a query asks for; `heard`: the page reads it again because it
/// heard of a change, so the view must hold it (else it may lag a second behind
/// deploys and verdicts, served while a fresh one is drawn).
#[server(endpoint = "timeline")]
pub async fn get_timeline(
    query: TimelineQuery,
    heard: bool,
) -> Result<AsOf<TimelineScreen>, AppError> {
    use crate::server::Freshness;
    use leptos::server_fn::ServerFn;
    // Read for a page being drawn on the server (not through this function's own
    // route): the page's markup carries the chart, its data need not.
    let in_page = use_context::<axum::http::request::Parts>()
        .is_some_and(|parts| parts.uri.path() != <GetTimeline as ServerFn>::PATH);
    let freshness = if heard {
        Freshness::Current
    } else {
        Freshness::MayLag
    };
    crate::server::serve(houston_service::timeline::NEED, move |call| async move {
        let filter = query.parse()?;
        let now = chrono::Utc::now();
        let view = crate::server::page_cache()
            .timeline(&call.store, &filter, freshness, now)
            .await?;
        let mut screen = view
            .screen(|timeline| TimelineScreen {
                view: Timeline {
                    lanes: Vec::new(),
                    ticks: Vec::new(),
                    ..timeline.clone()
                },
                chart: Chart {
                    markup: crate::pages::timeline::chart_html(timeline),
                    in_page: false,
                },
            })
            .await?;
        screen.chart.in_page = in_page;
        Ok(AsOf { now, value: screen })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::Chart;

    #[test]
    fn a_chart_already_in_the_page_is_left_out_of_its_data() {
        let chart = |in_page| Chart {
            markup: "<svg></svg>".to_owned(),
            in_page,
        };
        let written = serde_json::to_string(&chart(false)).unwrap_or_default();
        assert_eq!(written, r#""<svg></svg>""#);
        let read: Chart = serde_json::from_str(&written).unwrap_or_default();
        assert_eq!(read, chart(false));
        assert_eq!(
            serde_json::to_string(&chart(true)).unwrap_or_default(),
            r#""""#
        );
    }
}
