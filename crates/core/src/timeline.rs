//! The timeline: deploys, verdicts, locks, freeze windows, overrides, alerts and
//! incidents across services on one time axis, for the review after an incident.
//!
//! A view is a centre and a span (`?at=…&span=24h`), so zooming is a shorter or
//! longer span and panning a new centre; both are plain links. [`build_timeline`]
//! turns what the store read for the span ([`TimelineFacts`]) into lanes of marks
//! placed on a 0–1 axis, which a page draws as SVG without any chart library: one
//! lane for incidents, one for what holds every service (a lock or window without a
//! service, an alert without one), and one per service. Points that would overlap
//! on the axis (closer than [`CLUSTER`] of its width) become one mark with a count.

use super::alerts::{Alert, AlertState};
use super::deploy::{DeployId, DeployStatus, Problems, ValidationErrors};
use super::incidents::{Incident, IncidentState, Severity};
use super::judge::VerdictState;
use super::locks::{Lock, Override};
use super::names::{EnvironmentName, ServiceName};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The spans a view may have, shortest first: zooming steps through them.
pub const SPANS: [(&str, i64); 8] = [
    ("15m", 15),
    ("1h", 60),
    ("3h", 180),
    ("6h", 360),
    ("12h", 720),
    ("24h", 1_440),
    ("3d", 4_320),
    ("7d", 10_080),
];

/// The span of a view that names none; a view opened from an incident or a deploy
/// shows [`FOCUS_SPAN`] around it.
pub const DEFAULT_SPAN: &str = "24h";
pub const FOCUS_SPAN: &str = "12h";

/// The most items of one kind the store reads for a view; more are cut (and said).
pub const MAX_TIMELINE_ITEMS: u32 = 5_000;

/// The most events a view lists (every event still has its mark): past this, the
/// ones nearest the view's centre, and the view says how many there were.
pub const MAX_LISTED_EVENTS: usize = 250;

/// Points of one kind in one lane closer than this share of the axis are one mark.
pub const CLUSTER: f64 = 0.006;

/// What a timeline item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Deploy,
    Verdict,
    Lock,
    Freeze,
    Override,
    Alert,
    Incident,
}

impl TimelineKind {
    pub const ALL: [TimelineKind; 7] = [
        TimelineKind::Deploy,
        TimelineKind::Verdict,
        TimelineKind::Lock,
        TimelineKind::Freeze,
        TimelineKind::Override,
        TimelineKind::Alert,
        TimelineKind::Incident,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Deploy => "deploy",
            TimelineKind::Verdict => "verdict",
            TimelineKind::Lock => "lock",
            TimelineKind::Freeze => "freeze",
            TimelineKind::Override => "override",
            TimelineKind::Alert => "alert",
            TimelineKind::Incident => "incident",
        }
    }

    /// The plural a filter or a cluster shows.
    pub fn plural(self) -> &'static str {
        match self {
            TimelineKind::Deploy => "deploys",
            TimelineKind::Verdict => "verdicts",
            TimelineKind::Lock => "locks",
            TimelineKind::Freeze => "freeze windows",
            TimelineKind::Override => "overrides",
            TimelineKind::Alert => "alerts",
            TimelineKind::Incident => "incidents",
        }
    }

    pub fn parse(raw: &str) -> Option<TimelineKind> {
        TimelineKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// Whether items of this kind last (have an end: a bar) rather than happen at a
    /// moment (a point).
    pub fn lasts(self) -> bool {
        matches!(
            self,
            TimelineKind::Lock
                | TimelineKind::Freeze
                | TimelineKind::Alert
                | TimelineKind::Incident
        )
    }
}

/// How a mark reads at a glance, worst last (so the worst of a cluster is its max).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Neutral,
    Good,
    Info,
    Warn,
    Bad,
}

impl Tone {
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Neutral => "neutral",
            Tone::Good => "good",
            Tone::Info => "info",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
        }
    }
}

/// The query of `/timeline` and `GET /api/v1/timeline`, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    /// The view's centre (RFC 3339). When absent: the incident's or deploy's time, or
    /// else the view ends now (the last `span`). Empty values mean absent, here and in
    /// every field.
    #[cfg_attr(feature = "openapi", param(required = false, nullable = false, schema_with = timeline_at_schema))]
    pub at: Option<String>,
    /// How long the view is: `15m`, `1h`, `3h`, `6h`, `12h`, `24h`, `3d` or `7d`.
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*(15m|1h|3h|6h|12h|24h|3d|7d)?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub span: Option<String>,
    /// Only this service (and what holds every service).
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63})?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub service: Option<String>,
    /// Only this environment (and what holds every environment).
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*([A-Za-z0-9][A-Za-z0-9._-]{0,63})?[ \\t\\n\\f\\r]*$"
        )
    )]
    pub environment: Option<String>,
    /// Only these kinds, comma-separated: deploy, verdict, lock, freeze, override, alert, incident.
    #[cfg_attr(
        feature = "openapi",
        param(
            required = false,
            nullable = false,
            pattern = "^[ \\t\\n\\f\\r]*(deploy|verdict|lock|freeze|override|alert|incident)?[ \\t\\n\\f\\r]*(,[ \\t\\n\\f\\r]*(deploy|verdict|lock|freeze|override|alert|incident)?[ \\t\\n\\f\\r]*)*$"
        )
    )]
    pub kind: Option<String>,
    /// Centre the view on this incident's opening and mark it.
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub incident: Option<i64>,
    /// Centre the view on this deploy and mark it (given both, the incident is the
    /// centre).
    /// (Spelled `i64`, not `DeployId`: utoipa writes an alias as a reference and drops
    /// the minimum beside it, and Schemathesis then sends a negative id as valid.)
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub deploy: Option<i64>,
}

/// A timeline's `at`: an RFC 3339 time, or empty (absent).
#[cfg(feature = "openapi")]
pub fn timeline_at_schema() -> utoipa::openapi::schema::Schema {
    crate::paging::empty_or_formats(&[utoipa::openapi::schema::KnownFormat::DateTime])
}

/// A view's span: its name and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub name: &'static str,
    pub minutes: i64,
}

impl Span {
    pub fn parse(raw: &str) -> Option<Span> {
        SPANS
            .iter()
            .find(|(name, _)| *name == raw)
            .map(|&(name, minutes)| Span { name, minutes })
    }

    fn named(name: &str) -> Span {
        Span::parse(name).unwrap_or(Span {
            name: "24h",
            minutes: 1_440,
        })
    }

    pub fn duration(self) -> Duration {
        Duration::minutes(self.minutes)
    }

    /// The next shorter span, if any.
    pub fn shorter(self) -> Option<Span> {
        let i = SPANS.iter().position(|(n, _)| *n == self.name)?;
        i.checked_sub(1).map(|j| Span::named(SPANS[j].0))
    }

    /// The next longer span, if any.
    pub fn longer(self) -> Option<Span> {
        let i = SPANS.iter().position(|(n, _)| *n == self.name)?;
        SPANS.get(i + 1).map(|(n, _)| Span::named(n))
    }
}

/// A timeline query, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineFilter {
    pub at: Option<DateTime<Utc>>,
    /// None: the default ([`DEFAULT_SPAN`], or [`FOCUS_SPAN`] around a focus).
    pub span: Option<Span>,
    pub service: Option<ServiceName>,
    pub environment: Option<EnvironmentName>,
    /// Empty: every kind.
    pub kinds: Vec<TimelineKind>,
    pub incident: Option<i64>,
    pub deploy: Option<DeployId>,
}

impl TimelineFilter {
    /// Whether items of `kind` are shown.
    pub fn shows(&self, kind: TimelineKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// The span to show: the one asked for, else the default for a view with or
    /// without a focus.
    pub fn span_or_default(&self) -> Span {
        self.span.unwrap_or_else(|| {
            Span::named(if self.incident.is_some() || self.deploy.is_some() {
                FOCUS_SPAN
            } else {
                DEFAULT_SPAN
            })
        })
    }
}

impl TimelineQuery {
    /// The filter, or every problem with the query.
    pub fn parse(&self) -> Result<TimelineFilter, ValidationErrors> {
        let mut p = Problems::default();
        let given = |raw: &Option<String>| {
            raw.as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        };
        let at = given(&self.at).and_then(|raw| match DateTime::parse_from_rfc3339(&raw) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                p.add(
                    "at",
                    "must be an RFC 3339 time such as 2026-12-01T09:00:00Z",
                );
                None
            }
        });
        let span = given(&self.span).and_then(|raw| {
            Span::parse(&raw).or_else(|| {
                let names: Vec<&str> = SPANS.iter().map(|(n, _)| *n).collect();
                p.add("span", format!("must be one of {}", names.join(", ")));
                None
            })
        });
        let service = given(&self.service).and_then(|raw| {
            ServiceName::parse(&raw)
                .map_err(|e| p.add("service", e.to_string()))
                .ok()
        });
        let environment = given(&self.environment).and_then(|raw| {
            EnvironmentName::parse(&raw)
                .map_err(|e| p.add("environment", e.to_string()))
                .ok()
        });
        let mut kinds = Vec::new();
        for raw in given(&self.kind).iter().flat_map(|k| k.split(',')) {
            let raw = raw.trim();
            match TimelineKind::parse(raw) {
                Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                Some(_) => {}
                None if raw.is_empty() => {}
                None => p.add(
                    "kind",
                    "must name deploy, verdict, lock, freeze, override, alert or incident",
                ),
            }
        }
        kinds.sort();
        for (field, id) in [("incident", self.incident), ("deploy", self.deploy)] {
            if id.is_some_and(|id| id < 1) {
                p.add(field, "must be a positive id");
            }
        }
        if !p.is_empty() {
            return Err(p.into_errors());
        }
        Ok(TimelineFilter {
            at,
            span,
            service,
            environment,
            kinds,
            incident: self.incident,
            deploy: self.deploy,
        })
    }
}

/// A deploy as the timeline reads it: when it went out and when its verdict landed.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineDeploy {
    pub id: DeployId,
    pub service: ServiceName,
    pub environment: EnvironmentName,
    pub version: String,
    pub status: DeployStatus,
    pub started_at: DateTime<Utc>,
    /// Its verdict as shown (a lead's override, else the judge's).
    pub verdict: Option<VerdictState>,
    /// When the judge's verdict became final.
    pub verdict_at: Option<DateTime<Utc>>,
}

/// One period a freeze window held deploys.
#[derive(Debug, Clone, PartialEq)]
pub struct FreezeSpan {
    pub id: i64,
    pub name: String,
    pub environment: Option<EnvironmentName>,
    pub service: Option<ServiceName>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// What the store read for a view: everything that happened in, or overlaps, the
/// span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineFacts {
    pub deploys: Vec<TimelineDeploy>,
    pub alerts: Vec<Alert>,
    pub locks: Vec<Lock>,
    pub overrides: Vec<Override>,
    pub incidents: Vec<Incident>,
    pub freezes: Vec<FreezeSpan>,
    /// Some kind had more than [`MAX_TIMELINE_ITEMS`] in the span.
    pub truncated: bool,
}

/// One thing that happened, in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEvent {
    pub kind: TimelineKind,
    pub at: DateTime<Utc>,
    /// The end of something that lasts (a lock, alert, incident, window); absent for
    /// a moment, or for what has not ended.
    pub until: Option<DateTime<Utc>>,
    /// Something that lasts and has not ended.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ongoing: bool,
    pub tone: Tone,
    /// None: every service.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub service: Option<ServiceName>,
    /// None: every environment.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub environment: Option<EnvironmentName>,
    pub what: String,
    /// Houston's page for it.
    pub href: Option<String>,
}

/// One mark on a lane: a point (`width` 0) or a bar, placed on the 0–1 axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineMark {
    pub kind: TimelineKind,
    pub x: f64,
    pub width: f64,
    pub tone: Tone,
    /// How many events the mark stands for (points close together are one mark).
    pub count: u32,
    pub label: String,
    /// Absent for a cluster of several events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// A row of the chart: incidents, what holds every service, or one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineLane {
    pub name: String,
    pub marks: Vec<TimelineMark>,
}

/// A time label on the axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineTick {
    pub x: f64,
    pub at: DateTime<Utc>,
    /// `14:00`, or `Dec 7` at midnight.
    pub label: String,
}

/// A timeline view, ready to draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timeline {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub span: String,
    /// The centre, and the centres half a view earlier and later (what panning
    /// goes to), as RFC 3339 for links.
    pub centre: String,
    pub earlier: String,
    pub later: String,
    /// The spans to zoom in and out to, when there are.
    pub shorter: Option<String>,
    pub longer: Option<String>,
    pub lanes: Vec<TimelineLane>,
    pub ticks: Vec<TimelineTick>,
    /// Where the incident or deploy the view was opened from sits on the axis.
    pub focus: Option<f64>,
    /// Where now sits, when inside the span.
    pub now: Option<f64>,
    /// The events in time order: every one, or, when there were more, the
    /// [`MAX_LISTED_EVENTS`] nearest the focus, else now (when in view), else the
    /// centre.
    pub events: Vec<TimelineEvent>,
    /// How many events the view holds (more than `events` when the list was cut).
    pub events_total: usize,
    /// Some kind had more items than one view reads: zoom in to see all.
    pub truncated: bool,
}

/// The lane of incidents, first.
pub const INCIDENT_LANE: &str = "Incidents";
/// The lane of what holds every service, second.
pub const EVERY_SERVICE_LANE: &str = "Every service";

/// The view's span, centred on `at`.
pub fn view_range(at: DateTime<Utc>, span: Span) -> (DateTime<Utc>, DateTime<Utc>) {
    let half = span.duration() / 2;
    (at - half, at - half + span.duration())
}

/// The view drawn from what the store read for it: `facts` are filtered by the
/// filter's places and kinds, placed on the axis and clustered.
pub fn build_timeline(
    facts: &TimelineFacts,
    filter: &TimelineFilter,
    at: DateTime<Utc>,
    focus: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Timeline {
    let span = filter.span_or_default();
    let (from, to) = view_range(at, span);
    let mut events = timeline_events(facts, filter, from, to, now);
    events.sort_by(|a, b| a.at.cmp(&b.at).then(a.kind.cmp(&b.kind)));
    let place = |t: DateTime<Utc>| axis(t, from, to);
    // Per lane, its marks and, for each, the words of its first and worst event.
    type Marked = (TimelineMark, String, String);
    let mut lanes: Vec<(String, Vec<Marked>)> = Vec::new();
    for event in &events {
        let lane = match (event.kind, &event.service) {
            (TimelineKind::Incident, _) => INCIDENT_LANE.to_owned(),
            (_, None) => EVERY_SERVICE_LANE.to_owned(),
            (_, Some(service)) => service.to_string(),
        };
        let x = place(event.at);
        let lasts = event.until.is_some() || event.ongoing;
        let end = event.until.unwrap_or(now.min(to));
        let words = format!("{} · {}", short_time(event.at), event.what);
        let mark = TimelineMark {
            kind: event.kind,
            x,
            width: if lasts {
                round_axis((place(end) - x).max(0.0))
            } else {
                0.0
            },
            tone: event.tone,
            count: 1,
            label: words.clone(),
            href: event.href.clone(),
        };
        let index = match lanes.iter().position(|(name, _)| *name == lane) {
            Some(i) => i,
            None => {
                lanes.push((lane, Vec::new()));
                lanes.len() - 1
            }
        };
        let marks = &mut lanes[index].1;
        // Events come in time order, so a point's neighbour is the lane's last
        // point of its kind.
        let near = marks
            .iter_mut()
            .rev()
            .find(|(m, _, _)| m.kind == mark.kind && !m.kind.lasts())
            .filter(|(m, _, _)| !lasts && mark.x - m.x < CLUSTER);
        match near {
            Some((m, first, worst)) => {
                m.count += 1;
                m.href = None;
                if mark.tone > m.tone {
                    m.tone = mark.tone;
                    *worst = words;
                }
                m.label = format!(
                    "{} {} from {}; the worst: {worst}",
                    m.count,
                    m.kind.plural(),
                    first.split(" · ").next().unwrap_or_default(),
                );
            }
            None => marks.push((mark, words.clone(), words)),
        }
    }
    let mut lanes: Vec<TimelineLane> = lanes
        .into_iter()
        .map(|(name, marks)| TimelineLane {
            name,
            marks: marks.into_iter().map(|(m, _, _)| m).collect(),
        })
        .collect();
    lanes.sort_by_key(|lane| match lane.name.as_str() {
        INCIDENT_LANE => (0, String::new()),
        EVERY_SERVICE_LANE => (1, String::new()),
        name => (2, name.to_owned()),
    });
    let events_total = events.len();
    if events_total > MAX_LISTED_EVENTS {
        // Those nearest what the view is about: its focus, else now when the view
        // holds it (the latest), else its centre.
        let about = focus
            .or_else(|| (from..=to).contains(&now).then_some(now))
            .unwrap_or(at);
        events.sort_by_key(|e| (e.at - about).num_milliseconds().abs());
        events.truncate(MAX_LISTED_EVENTS);
        events.sort_by(|a, b| a.at.cmp(&b.at).then(a.kind.cmp(&b.kind)));
    }
    let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Timeline {
        from,
        to,
        at,
        centre: rfc3339(at),
        earlier: rfc3339(at - span.duration() / 2),
        later: rfc3339(at + span.duration() / 2),
        events_total,
        span: span.name.to_owned(),
        shorter: span.shorter().map(|s| s.name.to_owned()),
        longer: span.longer().map(|s| s.name.to_owned()),
        ticks: ticks(from, to),
        focus: focus.filter(|f| (from..=to).contains(f)).map(place),
        now: (from..=to).contains(&now).then(|| place(now)),
        lanes,
        events,
        truncated: facts.truncated,
    }
}

/// `t` on the 0–1 axis from `from` to `to`, clamped, to five decimals (under a
/// second on a day's view; a view of thousands of marks is sent and drawn in short
/// numbers).
fn axis(t: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let whole = (to - from).num_milliseconds().max(1) as f64;
    round_axis(((t - from).num_milliseconds() as f64 / whole).clamp(0.0, 1.0))
}

fn round_axis(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

fn short_time(t: DateTime<Utc>) -> String {
    t.format("%b %-d %H:%M").to_string()
}

/// Labels every round step that gives five to twelve of them.
fn ticks(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<TimelineTick> {
    const STEPS: [i64; 9] = [1, 5, 15, 30, 60, 180, 360, 720, 1_440];
    let minutes = (to - from).num_minutes().max(1);
    let step = STEPS
        .into_iter()
        .find(|s| minutes / s <= 12)
        .unwrap_or(1_440);
    let first = from.timestamp().div_euclid(step * 60) * step * 60 + step * 60;
    let mut out = Vec::new();
    let mut t = first;
    while let Some(at) = DateTime::from_timestamp(t, 0).filter(|at| *at < to) {
        let label = if at.format("%H:%M").to_string() == "00:00" {
            at.format("%b %-d").to_string()
        } else {
            at.format("%H:%M").to_string()
        };
        out.push(TimelineTick {
            x: axis(at, from, to),
            at,
            label,
        });
        t += step * 60;
    }
    out
}

/// Whether an item in `service` and `environment` (None: every one) is in the
/// filter's places: an item that holds every service is in every service's view.
fn in_places(
    filter: &TimelineFilter,
    service: Option<&ServiceName>,
    environment: Option<&EnvironmentName>,
) -> bool {
    let service_ok = match (&filter.service, service) {
        (Some(wanted), Some(s)) => wanted == s,
        _ => true,
    };
    let environment_ok = match (&filter.environment, environment) {
        (Some(wanted), Some(e)) => wanted == e,
        _ => true,
    };
    service_ok && environment_ok
}

/// The events of `facts` in the filter's places and kinds that touch `from`–`to`.
pub fn timeline_events(
    facts: &TimelineFacts,
    filter: &TimelineFilter,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<TimelineEvent> {
    let within = |t: DateTime<Utc>| from <= t && t <= to;
    let overlaps = |start: DateTime<Utc>, end: Option<DateTime<Utc>>| {
        start <= to && end.is_none_or(|end| end >= from)
    };
    let mut out = Vec::new();
    let mut push =
        |kind, at, until: Option<DateTime<Utc>>, tone, service, environment, what, href| {
            out.push(TimelineEvent {
                kind,
                at,
                ongoing: until.is_none() && kind.lasts(),
                until,
                tone,
                service,
                environment,
                what,
                href,
            });
        };
    for d in &facts.deploys {
        if !in_places(filter, Some(&d.service), Some(&d.environment)) {
            continue;
        }
        let href = Some(format!("/deploys/{}", d.id));
        if filter.shows(TimelineKind::Deploy) && within(d.started_at) {
            let tone = match d.status {
                DeployStatus::InProgress => Tone::Info,
                DeployStatus::Succeeded => Tone::Neutral,
                DeployStatus::Failed => Tone::Bad,
                DeployStatus::RolledBack => Tone::Warn,
            };
            push(
                TimelineKind::Deploy,
                d.started_at,
                None,
                tone,
                Some(d.service.clone()),
                Some(d.environment.clone()),
                format!(
                    "deploy #{} of {} {} to {} ({})",
                    d.id,
                    d.service,
                    d.version,
                    d.environment,
                    d.status.as_str().replace('_', " ")
                ),
                href.clone(),
            );
        }
        if let (Some(verdict), Some(at)) = (d.verdict, d.verdict_at)
            && filter.shows(TimelineKind::Verdict)
            && within(at)
            && verdict != VerdictState::Baking
        {
            push(
                TimelineKind::Verdict,
                at,
                None,
                verdict_tone(verdict),
                Some(d.service.clone()),
                Some(d.environment.clone()),
                format!(
                    "deploy #{} of {} {} judged {}",
                    d.id,
                    d.service,
                    d.version,
                    verdict_words(verdict)
                ),
                href,
            );
        }
    }
    if filter.shows(TimelineKind::Lock) {
        for lock in &facts.locks {
            let end = lock.unlocked_at.or(lock.expires_at.filter(|e| *e <= now));
            if !overlaps(lock.locked_at, end)
                || !in_places(filter, lock.service.as_ref(), lock.environment.as_ref())
            {
                continue;
            }
            let place = lock_place(lock.service.as_ref(), lock.environment.as_ref());
            let how = match (&lock.unlocked_by, lock.unlocked_at) {
                (Some(by), Some(_)) => format!("; unlocked by {by}"),
                _ if end.is_some() => "; expired".to_owned(),
                _ => String::new(),
            };
            push(
                TimelineKind::Lock,
                lock.locked_at,
                end,
                Tone::Warn,
                lock.service.clone(),
                lock.environment.clone(),
                format!("{place} locked by {}: {}{how}", lock.locked_by, lock.reason),
                Some("/locks".to_owned()),
            );
        }
    }
    if filter.shows(TimelineKind::Freeze) {
        for w in &facts.freezes {
            if !overlaps(w.from, Some(w.to))
                || !in_places(filter, w.service.as_ref(), w.environment.as_ref())
            {
                continue;
            }
            push(
                TimelineKind::Freeze,
                w.from,
                Some(w.to),
                Tone::Info,
                w.service.clone(),
                w.environment.clone(),
                format!(
                    "freeze window {} on {}",
                    w.name,
                    lock_place(w.service.as_ref(), w.environment.as_ref())
                ),
                Some("/locks".to_owned()),
            );
        }
    }
    if filter.shows(TimelineKind::Override) {
        for o in &facts.overrides {
            if !in_places(filter, Some(&o.service), Some(&o.environment)) {
                continue;
            }
            if within(o.granted_at) {
                push(
                    TimelineKind::Override,
                    o.granted_at,
                    None,
                    Tone::Warn,
                    Some(o.service.clone()),
                    Some(o.environment.clone()),
                    format!(
                        "override granted by {} for {} in {}: {}",
                        o.granted_by, o.service, o.environment, o.reason
                    ),
                    Some("/locks".to_owned()),
                );
            }
            if let (Some(at), Some(deploy)) = (o.used_at, o.used_by)
                && within(at)
            {
                push(
                    TimelineKind::Override,
                    at,
                    None,
                    Tone::Warn,
                    Some(o.service.clone()),
                    Some(o.environment.clone()),
                    format!("override spent by deploy #{deploy} of {}", o.service),
                    Some(format!("/deploys/{deploy}")),
                );
            }
        }
    }
    if filter.shows(TimelineKind::Alert) {
        for a in &facts.alerts {
            let end = a.ends_at.filter(|_| a.state == AlertState::Resolved);
            if !overlaps(a.starts_at, end)
                || !in_places(filter, a.service.as_ref(), a.environment.as_ref())
            {
                continue;
            }
            let on = a
                .service
                .as_ref()
                .map(|s| format!(" on {s}"))
                .unwrap_or_default();
            let state = if end.is_some() { "resolved" } else { "firing" };
            push(
                TimelineKind::Alert,
                a.starts_at,
                end,
                if end.is_some() { Tone::Warn } else { Tone::Bad },
                a.service.clone(),
                a.environment.clone(),
                format!("alert {}{on} ({state})", a.name),
                None,
            );
        }
    }
    if filter.shows(TimelineKind::Incident) {
        for i in &facts.incidents {
            if !overlaps(i.opened_at, i.resolved_at) {
                continue;
            }
            let touches = match (&filter.service, &filter.environment) {
                (None, None) => true,
                (s, e) => {
                    (i.services.is_empty() || s.as_ref().is_none_or(|s| i.services.contains(s)))
                        && (i.environments.is_empty()
                            || e.as_ref().is_none_or(|e| i.environments.contains(e)))
                }
            };
            if !touches {
                continue;
            }
            let tone = match i.severity {
                Severity::Critical | Severity::High => Tone::Bad,
                Severity::Medium | Severity::Low => Tone::Warn,
            };
            let state = match i.state {
                IncidentState::Open => "open",
                IncidentState::Acknowledged => "acknowledged",
                IncidentState::Resolved => "resolved",
            };
            push(
                TimelineKind::Incident,
                i.opened_at,
                i.resolved_at,
                tone,
                None,
                None,
                format!(
                    "incident {}: {} ({}, {state})",
                    i.id,
                    i.title,
                    i.severity.as_str()
                ),
                Some(format!("/incidents/{}", i.id)),
            );
        }
    }
    out
}

fn verdict_words(verdict: VerdictState) -> &'static str {
    match verdict {
        VerdictState::CantTell => "can't tell",
        VerdictState::NoData => "no data",
        other => other.as_str(),
    }
}

fn verdict_tone(verdict: VerdictState) -> Tone {
    match verdict {
        VerdictState::Healthy => Tone::Good,
        VerdictState::Ailing => Tone::Warn,
        VerdictState::Unhealthy => Tone::Bad,
        VerdictState::Baking | VerdictState::NoData | VerdictState::CantTell => Tone::Info,
    }
}

fn lock_place(service: Option<&ServiceName>, environment: Option<&EnvironmentName>) -> String {
    match (service, environment) {
        (Some(s), Some(e)) => format!("{s} in {e}"),
        (Some(s), None) => format!("{s} everywhere"),
        (None, Some(e)) => format!("every service in {e}"),
        (None, None) => "every service everywhere".to_owned(),
    }
}

#[cfg(test)]
mod tests;
