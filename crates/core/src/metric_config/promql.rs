//! Reading a metric from Prometheus: the query rendered from its template (escaped
//! placeholders), the step, and the answer read back.

use super::*;

/// A placeholder in `{{…}}` that is not one Houston fills in.
pub(super) fn unknown_placeholder(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Some(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    None
}

/// A value escaped for a PromQL string literal in double or single quotes.
pub fn promql_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The template with its placeholders (`{{service}}`, `{{ service }}`, …) filled
/// with escaped values.
pub fn render_query(template: &str, service: &str, environment: &str, group: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match after[..end].trim() {
            "service" => out.push_str(&promql_escape(service)),
            "environment" => out.push_str(&promql_escape(environment)),
            "group" => out.push_str(&promql_escape(group)),
            _ => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The step (whole seconds) for a range query over `window`: at least
/// [`MIN_QUERY_STEP_SECS`], and coarse enough that the window stays under
/// Prometheus' 11,000 points per series.
pub fn query_step(window: &TimeWindow) -> i64 {
    let span = (window.to - window.from).num_seconds().max(0);
    // points = span / step + 1 must stay below the limit.
    let per = PROMETHEUS_MAX_POINTS - 2;
    let needed = (span + per - 1) / per;
    needed.max(MIN_QUERY_STEP_SECS)
}

/// One series of a `query_range` answer: its labels and samples, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSeries {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

#[derive(Deserialize)]
struct PromAnswer {
    status: String,
    #[serde(default)]
    data: Option<PromData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct PromData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<PromResult>,
}

#[derive(Deserialize)]
struct PromResult {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// The series of a Prometheus `query_range` answer, or what went wrong (Prometheus'
/// own error, or an answer that is not a matrix). Samples that are not finite
/// (`NaN`, `+Inf`: an empty rate, a division by zero) are left out: no data, not a value.
pub fn parse_query_range(body: &str) -> Result<Vec<PromSeries>, String> {
    let answer: PromAnswer = serde_json::from_str(body)
        .map_err(|e| format!("Prometheus answered something that is not its API's JSON: {e}"))?;
    if answer.status != "success" {
        return Err(format!(
            "Prometheus answered {}: {}",
            answer.error_type.as_deref().unwrap_or("an error"),
            answer.error.as_deref().unwrap_or("(no message)")
        ));
    }
    let data = answer
        .data
        .ok_or_else(|| "Prometheus answered success without data".to_owned())?;
    if data.result_type != "matrix" {
        return Err(format!(
            "a range query should answer a matrix, Prometheus answered a {}",
            data.result_type
        ));
    }
    Ok(data
        .result
        .into_iter()
        .map(|r| PromSeries {
            labels: r.metric,
            samples: r
                .values
                .into_iter()
                .filter_map(|(t, v)| {
                    let value = v.parse::<f64>().ok().filter(|v| v.is_finite())?;
                    let at = DateTime::<Utc>::from_timestamp_micros((t * 1e6).round() as i64)?;
                    Some(Sample { at, value })
                })
                .collect(),
        })
        .collect())
}
