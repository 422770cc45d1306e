//! A metric's chart around a deploy: plain SVG drawn here (no chart library in
//! the wasm), lines per group, the deploy's start and end marked. The drawing
//! stretches to the width it gets; labels are HTML beside it, so they stay
//! readable at any width, in light and dark mode.

use crate::api::MetricChart;
use chrono::{DateTime, Timelike, Utc};
use leptos::prelude::*;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 140.0;
const PAD: f64 = 6.0;

/// The value range a chart shows: every point's, widened when flat.
fn value_range(chart: &MetricChart) -> (f64, f64) {
    let values = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if (hi - lo).abs() < f64::EPSILON {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    (lo, hi)
}

/// A value short enough for an axis: 1234, 12.3, 0.0123.
pub fn compact_number(v: f64) -> String {
    let a = v.abs();
    let text = if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 || a == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// "14:05" (UTC).
fn clock(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .map(|t| format!("{:02}:{:02}", t.hour(), t.minute()))
        .unwrap_or_default()
}

#[component]
pub fn MetricChartView(
    chart: MetricChart,
    /// The window, Unix seconds.
    from: i64,
    to: i64,
    /// The deploy's start and end, Unix seconds.
    started: i64,
    finished: Option<i64>,
) -> impl IntoView {
    let span = (to - from).max(1) as f64;
    let x = move |t: i64| ((t - from) as f64 / span * WIDTH).clamp(0.0, WIDTH);
    let (lo, hi) = value_range(&chart);
    let y = move |v: f64| HEIGHT - PAD - (v - lo) / (hi - lo) * (HEIGHT - 2.0 * PAD);
    let unit = chart.unit.clone();
    let caption = view! {
        <figcaption>
            <strong>{chart.metric.clone()}</strong>
            {(!unit.is_empty()).then(|| view! { <span class="muted">" (" {unit.clone()} ")"</span> })}
            <span class="chart-source">{chart.source.clone()}</span>
        </figcaption>
    };
    if let Some(why) = chart.unavailable.clone() {
        return view! {
            <figure class="chart" data-testid="chart" data-metric=chart.metric.clone()>
                {caption}
                <p class="chart-unavailable" role="status">"No data: " {why}</p>
            </figure>
        }
        .into_any();
    }
    let legend =
        (chart.lines.len() > 1 || chart.lines.iter().any(|l| l.group.is_some())).then(|| {
            chart
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let name = l.group.clone().unwrap_or_else(|| "all".into());
                    view! { <span class=format!("legend line-{}", i % 4)>{name}</span> }
                })
                .collect_view()
        });
    let lines = chart
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let points = l
                .points
                .iter()
                .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
                .collect::<Vec<_>>()
                .join(" ");
            view! { <polyline class=format!("line line-{}", i % 4) points=points /> }
        })
        .collect_view();
    let mark = |t: i64, class: &'static str| {
        let at = format!("{:.1}", x(t));
        view! { <line class=class x1=at.clone() x2=at y1="0" y2=HEIGHT.to_string() /> }
    };
    // The windows the judge compared, shaded behind the lines (a window outside the
    // chart, like last week's baseline, is left out).
    let shade = |(a, b): (i64, i64), class: &'static str| {
        let (left, right) = (x(a), x(b));
        (right - left > 0.5).then(|| {
            view! {
                <rect class=class x=format!("{left:.1}") y="0" width=format!("{:.1}", right - left) height=HEIGHT.to_string() />
            }
        })
    };
    let shading = chart.judged.map(|w| {
        view! {
            {shade(w.baseline, "window-baseline")}
            {shade(w.current, "window-current")}
        }
    });
    let window_legend = chart.judged.map(|_| {
        view! {
            <div class="chart-legend" data-testid="judged-windows">
                <span class="legend-window">"baseline"</span>
                <span class="legend-window judged">"judged"</span>
            </div>
        }
    });
    // The deploy's label sits under its mark, kept clear of the two end labels.
    let share = x(started) / WIDTH;
    let mark_anchor = if share < 0.25 {
        "start"
    } else if share > 0.75 {
        "end"
    } else {
        "middle"
    };
    let description = format!(
        "{} from {} to {} UTC, between {} and {}",
        chart.metric,
        clock(from),
        clock(to),
        compact_number(lo),
        compact_number(hi)
    );
    view! {
        <figure class="chart" data-testid="chart" data-metric=chart.metric.clone()>
            {caption}
            <div class="chart-body">
                <div class="chart-y"><span>{compact_number(hi)}</span><span>{compact_number(lo)}</span></div>
                <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=description>
                    {shading}
                    {mark(started, "mark-deploy")}
                    {finished.map(|f| mark(f, "mark-finished"))}
                    {lines}
                </svg>
            </div>
            // Percent positions keep the labels under their marks at any width
            // (the page's CSP allows no style attributes to place them).
            <svg class="chart-x" width="100%" height="16" aria-hidden="true">
                <text x="0" y="12">{clock(from)}</text>
                <text x=format!("{:.1}%", x(started) / WIDTH * 100.0) y="12" text-anchor=mark_anchor class="chart-mark-label">
                    "▲ deploy " {clock(started)}
                </text>
                <text x="100%" y="12" text-anchor="end">{clock(to)}</text>
            </svg>
            {legend.map(|l| view! { <div class="chart-legend">{l}</div> })}
            {window_legend}
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(compact_number(1234.56), "1235");
        assert_eq!(compact_number(12.34), "12.3");
        assert_eq!(compact_number(0.5), "0.5");
        assert_eq!(compact_number(0.0123), "0.0123");
        assert_eq!(compact_number(0.0), "0");
        assert_eq!(compact_number(-3.0), "-3");
    }

    #[test]
    fn a_flat_line_still_gets_a_range() {
        let chart = MetricChart {
            metric: "m".into(),
            unit: String::new(),
            source: "push".into(),
            lines: vec![crate::api::ChartLine {
                group: None,
                points: vec![(0, 5.0), (10, 5.0)],
            }],
            unavailable: None,
            judged: None,
        };
        let (lo, hi) = value_range(&chart);
        assert!(lo < 5.0 && hi > 5.0);
    }
}
