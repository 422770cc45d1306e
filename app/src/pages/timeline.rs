//! The timeline: what happened across services on one time axis, drawn as SVG from
//! the server's layout (no chart library). Zoom and pan are links that change the
//! view's span and centre; filters are a plain form; open pages redraw live.

use crate::api::{FilterOptions, TimelineScreen, get_filter_options, get_timeline};
use crate::components::{FilterSelect, absolute_time, load, use_live};
use crate::domain::TimelineQuery;
#[cfg(feature = "ssr")]
use crate::domain::{Timeline, TimelineLane};
use crate::pages::ErrorPanel;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The chart's user units: the labels' column, the plot, the lanes.
#[cfg(feature = "ssr")]
const WIDTH: f64 = 1000.0;
#[cfg(feature = "ssr")]
const LABEL: f64 = 150.0;
#[cfg(feature = "ssr")]
const PLOT: f64 = WIDTH - LABEL - 10.0;
#[cfg(feature = "ssr")]
const AXIS: f64 = 22.0;
#[cfg(feature = "ssr")]
const LANE: f64 = 26.0;

/// The kinds a reader picks from: a filter value (comma-separated kinds) and its name.
const KIND_CHOICES: [(&str, &str); 6] = [
    ("deploy,verdict", "Deploys and verdicts"),
    ("lock,freeze,override", "Locks, windows and overrides"),
    ("alert,incident", "Alerts and incidents"),
    ("deploy", "Deploys"),
    ("alert", "Alerts"),
    ("incident", "Incidents"),
];

#[component]
pub fn TimelinePage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        params.with(|q| TimelineQuery {
            at: q.get("at"),
            span: q.get("span"),
            service: q.get("service"),
            environment: q.get("environment"),
            kind: q.get("kind"),
            incident: q.get("incident").and_then(|i| i.parse().ok()),
            deploy: q.get("deploy").and_then(|d| d.parse().ok()),
        })
    });
    // Anything that changes may be on the view: a deploy, a verdict, a lock, an
    // incident. The view is read again, at most once per change heard.
    let (heard, set_heard) = signal(0u64);
    use_live(move |_| set_heard.update(|n| *n += 1));
    let view = load(
        move || (query.get(), heard.get()),
        |(query, heard)| get_timeline(query, heard > 0),
    );
    let options = load(|| (), |_| get_filter_options());
    view! {
        <Title text="Timeline" />
        <div class="page-head">
            <h1>"Timeline"</h1>
            <p class="muted">"Deploys, verdicts, locks, freeze windows, overrides, alerts and incidents on one time axis. Hover a mark for what it is; the list below has every event with its link."</p>
        </div>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let options = options.await.unwrap_or(FilterOptions { services: Vec::new(), environments: Vec::new() });
                view! { <TimelineFilters options current=query.get_untracked() /> }
            })}
        </Transition>
        <Transition fallback=|| view! { <p class="muted">"Loading the timeline…"</p> }>
            {move || Suspend::new(async move {
                match view.await {
                    Ok(read) => view! { <TimelineView screen=read.value query=query.get_untracked() /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The link to the view `query` with some of its fields changed.
fn link(query: &TimelineQuery) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut add = |name: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            parts.push(format!("{name}={}", encode(&value)));
        }
    };
    add("at", query.at.clone());
    add("span", query.span.clone());
    add("service", query.service.clone());
    add("environment", query.environment.clone());
    add("kind", query.kind.clone());
    add("incident", query.incident.map(|i| i.to_string()));
    add("deploy", query.deploy.map(|d| d.to_string()));
    if parts.is_empty() {
        "/timeline".to_owned()
    } else {
        format!("/timeline?{}", parts.join("&"))
    }
}

/// A query value as a URL writes it: what is not unreserved, percent-encoded.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn TimelineFilters(options: FilterOptions, current: TimelineQuery) -> impl IntoView {
    let services = options
        .services
        .iter()
        .map(|s| (s.name.to_string(), s.name.to_string()))
        .collect();
    let environments = options
        .environments
        .iter()
        .map(|e| (e.name.to_string(), e.name.to_string()))
        .collect();
    let kinds = KIND_CHOICES
        .iter()
        .map(|(v, t)| ((*v).to_owned(), (*t).to_owned()))
        .collect();
    let hidden = |name: &'static str, value: Option<String>| {
        value.map(|value| view! { <input type="hidden" name=name value=value /> })
    };
    view! {
        <form method="get" action="/timeline" class="filters panel" data-testid="timeline-filters">
            {hidden("at", current.at.clone())}
            {hidden("span", current.span.clone())}
            {hidden("incident", current.incident.map(|i| i.to_string()))}
            {hidden("deploy", current.deploy.map(|d| d.to_string()))}
            <FilterSelect name="service" label="Service" any="All services" choices=services current=current.service.clone() />
            <FilterSelect name="environment" label="Environment" any="All environments" choices=environments current=current.environment.clone() />
            <FilterSelect name="kind" label="Show" any="Everything" choices=kinds current=current.kind.clone() />
            <button type="submit" class="button small">"Apply"</button>
        </form>
    }
}

#[component]
fn TimelineView(screen: TimelineScreen, query: TimelineQuery) -> impl IntoView {
    let TimelineScreen { view: t, chart } = screen;
    // Panning keeps the span and any focus mark; the centre moves half a view. The
    // server writes the times (chrono's formatting would weigh on the first load).
    let moved = |centre: &str| {
        link(&TimelineQuery {
            at: Some(centre.to_owned()),
            span: Some(t.span.clone()),
            ..query.clone()
        })
    };
    let earlier = moved(&t.earlier);
    let later = moved(&t.later);
    let zoom = |span: Option<String>| {
        span.map(|span| {
            link(&TimelineQuery {
                at: Some(t.centre.clone()),
                span: Some(span),
                ..query.clone()
            })
        })
    };
    let zoom_in = zoom(t.shorter.clone());
    let zoom_out = zoom(t.longer.clone());
    let now_link = link(&TimelineQuery {
        at: None,
        incident: None,
        deploy: None,
        ..query.clone()
    });
    let range = format!(
        "{} to {} ({})",
        absolute_time(t.from),
        absolute_time(t.to),
        t.span
    );
    let nav = view! {
        <nav class="timeline-nav" aria-label="Move the timeline">
            <a class="button ghost small" href=earlier data-testid="pan-earlier">"← Earlier"</a>
            {match zoom_in {
                Some(href) => view! { <a class="button ghost small" href=href data-testid="zoom-in">"Zoom in"</a> }.into_any(),
                None => view! { <span class="button ghost small disabled">"Zoom in"</span> }.into_any(),
            }}
            {match zoom_out {
                Some(href) => view! { <a class="button ghost small" href=href data-testid="zoom-out">"Zoom out"</a> }.into_any(),
                None => view! { <span class="button ghost small disabled">"Zoom out"</span> }.into_any(),
            }}
            <a class="button ghost small" href=later data-testid="pan-later">"Later →"</a>
            <a class="button ghost small" href=now_link>"Now"</a>
            <span class="muted small" data-testid="timeline-range">{range}</span>
        </nav>
    };
    let truncated = t.truncated.then(|| view! {
        <p class="panel form-error" role="note">"More happened in this span than one view shows: zoom in, or filter by service or kind."</p>
    });
    let empty = t.events.is_empty();
    let events = t.events.clone();
    let t_total = t.events_total;
    view! {
        {nav}
        {truncated}
        <section class="panel timeline-panel">
            {if empty {
                view! { <p class="muted">"Nothing happened in this span for this filter."</p> }.into_any()
            } else {
                // Drawn on the server, once per view (`chart_html`).
                view! { <div class="timeline-chart-wrap" inner_html=chart.markup></div> }.into_any()
            }}
        </section>
        <section class="panel">
            <h2>{format!("Events ({})", t_total)}</h2>
            {(t_total > events.len()).then(|| view! {
                <p class="muted small" data-testid="events-cut">
                    {format!("Listing the {} nearest the centre of {t_total}: zoom in or filter to list the rest. Every one has its mark above.", events.len())}
                </p>
            })}
            <div class="table-wrap">
                <table class="timeline-events" data-testid="timeline-events">
                    <thead><tr><th scope="col">"When (UTC)"</th><th scope="col">"Kind"</th><th scope="col">"What"</th></tr></thead>
                    <tbody>
                        {events.into_iter().map(|e| {
                            let what = match e.href.clone() {
                                Some(href) => view! { <a href=href>{e.what.clone()}</a> }.into_any(),
                                None => view! { <span>{e.what.clone()}</span> }.into_any(),
                            };
                            let until = e.until.map(|u| format!(" – {}", absolute_time(u))).or_else(|| e.ongoing.then(|| " – ongoing".to_owned()));
                            view! {
                                <tr data-testid="timeline-event" data-kind=e.kind.as_str()>
                                    <td class="nowrap">{absolute_time(e.at)}{until}</td>
                                    <td><span class=format!("badge kind-{} tone-{}", e.kind.as_str(), e.tone.as_str())>{e.kind.as_str()}</span></td>
                                    <td>{what}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// The chart of `timeline` as markup, for the page cache to keep beside the view:
/// the browser receives it drawn and never needs the marks or the code that draws
/// them.
#[cfg(feature = "ssr")]
pub(crate) fn chart_html(timeline: &Timeline) -> String {
    let timeline = timeline.clone();
    Owner::new().with(|| view! { <TimelineChart timeline /> }.to_html())
}

/// The chart: an axis of ticks, then a lane per row with its marks.
#[cfg(feature = "ssr")]
#[component]
fn TimelineChart(timeline: Timeline) -> impl IntoView {
    let t = timeline;
    let height = AXIS + LANE * t.lanes.len() as f64 + 4.0;
    let x = move |share: f64| LABEL + share * PLOT;
    let ticks = t
        .ticks
        .iter()
        .map(|tick| {
            let at = format!("{:.1}", x(tick.x));
            view! {
                <line class="tick" x1=at.clone() x2=at.clone() y1=format!("{AXIS}") y2=format!("{height}") />
                <text class="tick-label" x=at y="14" text-anchor="middle">{tick.label.clone()}</text>
            }
        })
        .collect_view();
    let line = |share: Option<f64>, class: &'static str| {
        share.map(|s| {
            let at = format!("{:.1}", x(s));
            view! { <line class=class x1=at.clone() x2=at y1=format!("{}", AXIS - 4.0) y2=format!("{height}") /> }
        })
    };
    let lanes = t
        .lanes
        .into_iter()
        .enumerate()
        .map(|(i, lane)| view! { <LaneRow lane top=AXIS + LANE * i as f64 x0=LABEL /> })
        .collect_view();
    let description = format!(
        "Timeline from {} to {}",
        absolute_time(t.from),
        absolute_time(t.to)
    );
    view! {
        <svg class="timeline-chart" viewBox=format!("0 0 {WIDTH} {height:.0}") role="img" aria-label=description data-testid="timeline-chart">
            {ticks}
            {lanes}
            {line(t.now, "now-line")}
            {line(t.focus, "focus-line")}
        </svg>
        <p class="chart-legend muted small">
            <span class="legend-mark tone-bad">"bad"</span>
            <span class="legend-mark tone-warn">"warning"</span>
            <span class="legend-mark tone-good">"healthy"</span>
            <span class="legend-mark tone-info">"info"</span>
            " Dots are moments (deploys, verdicts, overrides), bars last (locks, windows, alerts, incidents); a number is how many close together. "
            {t.focus.map(|_| view! { <span class="legend-focus">"The dashed line is what the view was opened from."</span> })}
        </p>
    }
}

#[cfg(feature = "ssr")]
#[component]
fn LaneRow(lane: TimelineLane, top: f64, x0: f64) -> impl IntoView {
    let mid = top + LANE / 2.0;
    let x = move |share: f64| x0 + share * PLOT;
    let marks = lane
        .marks
        .into_iter()
        .map(|m| {
            let class = format!("mark kind-{} tone-{}", m.kind.as_str(), m.tone.as_str());
            let title = m.label.clone();
            if m.width > 0.0 || m.kind.lasts() {
                // A bar, at least six units wide so a short or just-opened one still
                // shows beside the lines.
                let w = (m.width * PLOT).max(6.0);
                view! {
                    <rect class=class x=format!("{:.1}", x(m.x)) y=format!("{:.1}", mid - 5.0) width=format!("{w:.1}") height="10" rx="3">
                        <title>{title}</title>
                    </rect>
                }
                .into_any()
            } else {
                let r = if m.count > 1 { 7.0 } else { 5.0 };
                let count = (m.count > 1).then(|| view! {
                    <text class="mark-count" x=format!("{:.1}", x(m.x)) y=format!("{:.1}", mid + 3.5) text-anchor="middle">{m.count.min(99)}</text>
                });
                view! {
                    <g>
                        <circle class=class cx=format!("{:.1}", x(m.x)) cy=format!("{mid:.1}") r=format!("{r}")>
                            <title>{title}</title>
                        </circle>
                        {count}
                    </g>
                }
                .into_any()
            }
        })
        .collect_view();
    let name = lane.name;
    let label = name.clone();
    view! {
        <g class="lane" data-lane=name>
            <rect class="lane-bg" x="0" y=format!("{top:.1}") width=format!("{WIDTH}") height=format!("{LANE}") />
            <text class="lane-label" x="6" y=format!("{:.1}", mid + 4.0)>{label}</text>
            {marks}
        </g>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_view_and_encode_its_values() {
        let query = TimelineQuery {
            at: Some("2026-12-07T12:00:00+00:00".into()),
            span: Some("6h".into()),
            service: Some("checkout".into()),
            kind: Some("alert,incident".into()),
            incident: Some(4),
            ..TimelineQuery::default()
        };
        assert_eq!(
            link(&query),
            "/timeline?at=2026-12-07T12:00:00%2B00:00&span=6h&service=checkout&kind=alert,incident&incident=4"
        );
        assert_eq!(link(&TimelineQuery::default()), "/timeline");
    }
}
