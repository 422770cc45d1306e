//! Freeze windows: when deploys are locked. A window is weekly (local wall-clock
//! ranges in an IANA time zone) or once (a fixed UTC period, e.g. a holiday).

use chrono::Weekday::{self, Fri, Mon, Sat, Sun, Thu, Tue, Wed};
use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDateTime, NaiveTime, SubsecRound, TimeDelta,
    TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Most ranges one weekly schedule may have.
pub const MAX_RANGES: usize = 14;
/// Longest a one-off window may be, in days.
pub const MAX_ONCE_DAYS: i64 = 366;

/// Local dates before and after `now`'s for which weekly occurrences are built.
const DAYS_BEFORE: i64 = 8;
const DAYS_AFTER: i64 = 16;
const WEEK: [Weekday; 7] = [Mon, Tue, Wed, Thu, Fri, Sat, Sun];
const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One weekly range: on each of `days` from `start` to `end` (local, the window's zone); end <= start ends the next day.
///
/// `end == start` is a full day of wall-clock time (00:00–00:00 is "all day").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyRange {
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// When a freeze window is active.
///
/// Weekly ranges are local wall-clock times, turned into instants day by day:
/// - a local time that does not exist (skipped by a spring-forward change, e.g.
///   02:30 in Europe/Berlin on 2026-03-29) means the instant the clocks jump
///   (there 03:00 CEST = 01:00 UTC);
/// - a local time that exists twice (repeated by a fall-back change, e.g. 02:30 in
///   Europe/Berlin on 2026-10-25) means the earlier of the two instants.
///
/// So a 22:00–06:00 range over a change lasts 7 h (spring) or 9 h (fall) of real time.
/// Overlapping or touching occurrences merge into one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// Recurring every week; `time_zone` is an IANA name (checked by [`ScheduleRequest::parse`]).
    Weekly {
        time_zone: String,
        ranges: Vec<WeeklyRange>,
    },
    /// One fixed period, `from` to `to`.
    Once {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

/// A closed period [from, to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// Whether `at` falls inside: `from <= at < to`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

impl Schedule {
    /// The period containing `now` (merged with overlapping/touching occurrences, so `to` is when deploys really open), if any.
    ///
    /// A weekly schedule that covers the whole week never opens; its period is cut
    /// about two weeks after `now`. A weekly schedule with an unknown zone has no periods.
    pub fn active_at(&self, now: DateTime<Utc>) -> Option<Period> {
        self.periods_around(now)
            .into_iter()
            .find(|p| p.contains(now))
    }

    /// The next period that starts after `now` (strictly), if any (for Once: None when already started/past).
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<Period> {
        self.periods_around(now).into_iter().find(|p| p.from > now)
    }

    /// The periods that overlap `from`–`to` (a span of at most a week: weekly
    /// occurrences are built around its middle).
    pub fn periods_overlapping(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Period> {
        self.periods_around(from + (to - from) / 2)
            .into_iter()
            .filter(|p| p.from < to && p.to > from)
            .collect()
    }

    /// Plain words, e.g. "Mon–Fri 15:30–09:00 (next day); Sat–Sun all day (Europe/Berlin)".
    pub fn describe(&self) -> String {
        match self {
            Schedule::Weekly { time_zone, ranges } => {
                let parts: Vec<String> = ranges.iter().map(WeeklyRange::describe).collect();
                format!("{} ({time_zone})", parts.join("; "))
            }
            Schedule::Once { from, to } => {
                let f = "%Y-%m-%d %H:%M UTC";
                format!("from {} to {}", from.format(f), to.format(f))
            }
        }
    }

    /// The zone of a weekly schedule; None for Once or an unknown name.
    pub fn time_zone(&self) -> Option<Tz> {
        match self {
            Schedule::Weekly { time_zone, .. } => time_zone.parse::<Tz>().ok(),
            Schedule::Once { .. } => None,
        }
    }

    /// Merged periods, sorted, near `now` (for Weekly: occurrences starting on local
    /// dates from 8 days before to 16 days after `now`'s).
    fn periods_around(&self, now: DateTime<Utc>) -> Vec<Period> {
        let (tz, ranges) = match self {
            &Schedule::Once { from, to } if from < to => return vec![Period { from, to }],
            Schedule::Once { .. } => return Vec::new(),
            Schedule::Weekly { ranges, .. } => match self.time_zone() {
                Some(tz) => (tz, ranges),
                None => return Vec::new(),
            },
        };
        let today = now.with_timezone(&tz).date_naive();
        let mut periods = Vec::new();
        for offset in -DAYS_BEFORE..=DAYS_AFTER {
            let Some(date) = today.checked_add_signed(TimeDelta::days(offset)) else {
                continue;
            };
            for range in ranges.iter().filter(|r| r.days.contains(&date.weekday())) {
                let overnight = Days::new(u64::from(range.end <= range.start));
                let from = resolve_local(tz, date.and_time(range.start));
                let end_date = date.checked_add_days(overnight);
                let to = end_date.and_then(|d| resolve_local(tz, d.and_time(range.end)));
                if let (Some(from), Some(to)) = (from, to)
                    && from < to
                {
                    periods.push(Period { from, to });
                }
            }
        }
        merge(periods)
    }
}

/// The instant a local wall time means in `tz`: a repeated time is the earlier
/// instant; a skipped time is the instant the clocks jump past it.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => first_instant_at_or_after(tz, local),
    }
}

/// The earliest instant whose local time is at or after `local`, found by binary
/// search over whole seconds (zone changes fall on whole seconds). Offsets are under
/// a day, so local-as-UTC ± 1 day brackets it; one change per bracket is assumed.
fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let reached = |secs: i64| {
        DateTime::from_timestamp(secs, 0).map(|t| t.with_timezone(&tz).naive_local() >= local)
    };
    let guess = local.and_utc().timestamp();
    let (mut lo, mut hi) = (guess.checked_sub(86_400)?, guess.checked_add(86_400)?);
    if reached(lo)? || !reached(hi)? {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reached(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// Sorts and joins overlapping or touching periods ([a,b) and [b,c) become [a,c)).
fn merge(mut periods: Vec<Period>) -> Vec<Period> {
    periods.sort_by_key(|p| (p.from, p.to));
    let mut merged: Vec<Period> = Vec::with_capacity(periods.len());
    for p in periods {
        match merged.last_mut() {
            Some(last) if p.from <= last.to => last.to = last.to.max(p.to),
            _ => merged.push(p),
        }
    }
    merged
}

fn day_name(day: Weekday) -> &'static str {
    NAMES[day.num_days_from_monday() as usize]
}

/// "mon", "Monday", "tues", … (case-insensitive; at least three letters of the name).
fn parse_day(raw: &str) -> Option<Weekday> {
    let lower = raw.trim().to_ascii_lowercase();
    let mut full = "monday tuesday wednesday thursday friday saturday sunday".split(' ');
    let i = full.position(|f| lower.len() >= 3 && f.starts_with(&lower))?;
    WEEK.get(i).copied()
}

/// Days in Mon..Sun order, or a message naming a repeat.
fn sort_days(mut days: Vec<Weekday>) -> Result<Vec<Weekday>, String> {
    days.sort_by_key(|d| d.num_days_from_monday());
    match days.windows(2).find(|w| w[0] == w[1]) {
        Some(pair) => Err(format!("{} is listed twice", day_name(pair[0]))),
        None => Ok(days),
    }
}

/// Runs of consecutive days in Mon..Sun order, a Sun–Mon run joined across the
/// week's end (e.g. "Fri–Mon"); all seven days is the single run Mon–Sun.
fn day_runs(days: &[Weekday]) -> Vec<(Weekday, Weekday)> {
    let mut present = [false; 7];
    for d in days {
        present[d.num_days_from_monday() as usize] = true;
    }
    if present.iter().all(|p| *p) {
        return vec![(Mon, Sun)];
    }
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, _) in present.iter().enumerate().filter(|(_, p)| **p) {
        match runs.last_mut() {
            Some(run) if run.1 + 1 == i => run.1 = i,
            _ => runs.push((i, i)),
        }
    }
    if runs.len() >= 2 && runs[0].0 == 0 && runs[runs.len() - 1].1 == 6 {
        let first = runs.remove(0);
        if let Some(last) = runs.last_mut() {
            last.1 = first.1;
        }
    }
    runs.into_iter().map(|(a, b)| (WEEK[a], WEEK[b])).collect()
}

impl WeeklyRange {
    /// Plain words, e.g. "Mon–Fri 15:30–09:00 (next day)", "Sat–Sun all day", "every day 12:00–13:00".
    pub fn describe(&self) -> String {
        self.render("–", ", ", true)
    }

    /// Text that [`parse_ranges_text`] reads back to this range, e.g. "Mon-Fri 15:30-09:00".
    pub fn to_text(&self) -> String {
        self.render("-", ",", false)
    }

    fn render(&self, dash: &str, comma: &str, words: bool) -> String {
        let runs = day_runs(&self.days);
        let days = if words && runs == [(Mon, Sun)] {
            "every day".to_owned()
        } else {
            let run = |(a, b)| match a == b {
                true => day_name(a).to_owned(),
                false => format!("{}{dash}{}", day_name(a), day_name(b)),
            };
            runs.into_iter().map(run).collect::<Vec<_>>().join(comma)
        };
        if self.start == NaiveTime::MIN && self.end == NaiveTime::MIN {
            return format!("{days} all day");
        }
        let overnight = words && self.end <= self.start;
        let next_day = if overnight { " (next day)" } else { "" };
        let (start, end) = (self.start.format("%H:%M"), self.end.format("%H:%M"));
        format!("{days} {start}{dash}{end}{next_day}")
    }
}

/// "HH:MM" (or "H:MM"), 24 h.
fn parse_hhmm(raw: &str) -> Option<NaiveTime> {
    let (h, m) = raw.trim().split_once(':')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// Days like "Mon-Fri", "Sat,Sun", "Fri-Mon" (wraps round the week).
fn parse_days_text(raw: &str) -> Result<Vec<Weekday>, String> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err("missing days, e.g. Mon-Fri".to_owned());
    }
    let day = |s: &str| parse_day(s).ok_or_else(|| format!("unknown day \"{s}\""));
    let mut days = Vec::new();
    for piece in compact.split(',') {
        let Some((a, b)) = piece.split_once(['-', '–']) else {
            days.push(day(piece)?);
            continue;
        };
        let (mut next, last) = (day(a)?, day(b)?);
        days.push(next);
        while next != last {
            next = next.succ();
            days.push(next);
        }
    }
    sort_days(days)
}

/// One item, e.g. "Mon-Fri 15:30-09:00" or "Sat-Sun all day".
fn parse_range_item(item: &str) -> Result<WeeklyRange, String> {
    let normal = item.split_whitespace().collect::<Vec<_>>().join(" ");
    if normal.to_ascii_lowercase().ends_with("all day") {
        let days = parse_days_text(&normal[..normal.len() - "all day".len()])?;
        let (start, end) = (NaiveTime::MIN, NaiveTime::MIN);
        return Ok(WeeklyRange { days, start, end });
    }
    let split = normal
        .find(|c: char| c.is_ascii_digit())
        .ok_or("missing times, e.g. 15:30-09:00 or all day")?;
    let (days, times) = normal.split_at(split);
    let days = parse_days_text(days)?;
    let (a, b) = times
        .split_once(['-', '–'])
        .ok_or("times must look like 15:30-09:00")?;
    let time = |s: &str| parse_hhmm(s).ok_or_else(|| format!("\"{}\" is not HH:MM", s.trim()));
    Ok(WeeklyRange {
        days,
        start: time(a)?,
        end: time(b)?,
    })
}

/// Reads ranges typed as text, one per line or `;`-separated: "Mon-Fri 15:30-09:00",
/// "Sat-Sun all day", "Sat,Sun 00:00-00:00", "Fri-Mon 18:00-08:00" (hyphen or en dash).
/// Every problem is reported, joined by "; ".
pub fn parse_ranges_text(text: &str) -> Result<Vec<WeeklyRange>, String> {
    let items: Vec<&str> = text
        .split(['\n', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err("enter at least one range, e.g. \"Mon-Fri 15:30-09:00\"".to_owned());
    }
    if items.len() > MAX_RANGES {
        return Err(format!("at most {MAX_RANGES} ranges"));
    }
    let (mut ranges, mut problems) = (Vec::new(), Vec::new());
    for item in items {
        match parse_range_item(item) {
            Ok(range) => ranges.push(range),
            Err(message) => problems.push(format!("\"{item}\": {message}")),
        }
    }
    match problems.is_empty() {
        true => Ok(ranges),
        false => Err(problems.join("; ")),
    }
}

/// A schedule as typed in a form or sent as JSON, before checking.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduleRequest {
    /// "weekly" or "once".
    pub kind: Option<String>,
    /// Weekly: IANA name, e.g. "Europe/Berlin".
    pub time_zone: Option<String>,
    /// Weekly: 1 to 14 ranges.
    pub ranges: Option<Vec<RangeRequest>>,
    /// Once: RFC 3339.
    pub from: Option<String>,
    /// Once: RFC 3339, after `from`, at most 366 days after it.
    pub to: Option<String>,
}

/// One weekly range as typed: days "mon".."sun" or full names, times "HH:MM".
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RangeRequest {
    pub days: Option<Vec<String>>,
    pub start: Option<String>,
    pub end: Option<String>,
}

/// Problems found so far, as (field, message).
struct Problems(Vec<(String, String)>);

impl Problems {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }

    /// A required field: trimmed, non-empty, and read by `parse`; a problem is noted.
    fn required<T>(
        &mut self,
        field: &str,
        raw: &Option<String>,
        parse: impl FnOnce(&str) -> Option<T>,
        message: impl FnOnce(&str) -> String,
    ) -> Option<T> {
        let Some(raw) = raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            self.add(field, "is required");
            return None;
        };
        let parsed = parse(raw);
        if parsed.is_none() {
            self.add(field, message(raw));
        }
        parsed
    }
}

fn instant(raw: &str) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(raw).ok()?;
    Some(t.with_timezone(&Utc).trunc_subsecs(6))
}

impl RangeRequest {
    fn parse(&self, index: usize, problems: &mut Problems) -> Option<WeeklyRange> {
        let field = |name: &str| format!("ranges[{index}].{name}");
        let raw_days = self.days.as_deref().unwrap_or_default();
        let before = problems.0.len();
        if raw_days.is_empty() {
            problems.add(&field("days"), "pick at least one day");
        }
        let mut days = Vec::new();
        for raw in raw_days {
            match parse_day(raw) {
                Some(day) => days.push(day),
                None => problems.add(&field("days"), format!("unknown day \"{raw}\"")),
            }
        }
        let days = match sort_days(days) {
            Ok(days) => Some(days).filter(|_| problems.0.len() == before),
            Err(message) => {
                problems.add(&field("days"), message);
                None
            }
        };
        let hhmm = |_: &str| "must be HH:MM".to_owned();
        let start = problems.required(&field("start"), &self.start, parse_hhmm, hhmm);
        let end = problems.required(&field("end"), &self.end, parse_hhmm, hhmm);
        let (days, start, end) = (days?, start?, end?);
        Some(WeeklyRange { days, start, end })
    }
}

impl ScheduleRequest {
    /// Checks everything and reports every problem as (field, message).
    pub fn parse(&self) -> Result<Schedule, Vec<(String, String)>> {
        let mut problems = Problems(Vec::new());
        let schedule = match self.kind.as_deref().map(str::trim) {
            Some("weekly") => self.parse_weekly(&mut problems),
            Some("once") => self.parse_once(&mut problems),
            None | Some("") => {
                problems.add("kind", "is required");
                None
            }
            Some(_) => {
                problems.add("kind", "must be \"weekly\" or \"once\"");
                None
            }
        };
        match schedule {
            Some(schedule) if problems.0.is_empty() => Ok(schedule),
            _ => Err(problems.0),
        }
    }

    fn parse_weekly(&self, problems: &mut Problems) -> Option<Schedule> {
        let unknown = |name: &str| format!("unknown time zone \"{name}\"");
        let zone = |s: &str| s.parse::<Tz>().ok();
        let tz = problems.required("time_zone", &self.time_zone, zone, unknown);
        let raw_ranges = self.ranges.as_deref().unwrap_or_default();
        if raw_ranges.is_empty() {
            problems.add("ranges", "at least one range is required");
        } else if raw_ranges.len() > MAX_RANGES {
            problems.add("ranges", format!("at most {MAX_RANGES} ranges"));
        }
        // Every range is checked before a failed one ends the collection.
        let mut ranges = Vec::new();
        for (i, range) in raw_ranges.iter().enumerate() {
            ranges.push(range.parse(i, problems));
        }
        let ranges = ranges.into_iter().collect::<Option<Vec<_>>>()?;
        let time_zone = tz?.name().to_owned();
        Some(Schedule::Weekly { time_zone, ranges })
    }

    fn parse_once(&self, problems: &mut Problems) -> Option<Schedule> {
        let rfc = |_: &str| "must be an RFC 3339 time, e.g. 2026-12-24T00:00:00Z".to_owned();
        let from = problems.required("from", &self.from, instant, rfc);
        let to = problems.required("to", &self.to, instant, rfc);
        let (from, to) = (from?, to?);
        if to <= from {
            problems.add("to", "must be after from");
        } else if to - from > TimeDelta::days(MAX_ONCE_DAYS) {
            let message = format!("must be at most {MAX_ONCE_DAYS} days after from");
            problems.add("to", message);
        } else {
            return Some(Schedule::Once { from, to });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "2026-03-29 01:00" or "2026-03-29 00:59:59", UTC.
    fn at(s: &str) -> DateTime<Utc> {
        let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"));
        t.expect("test instant").and_utc()
    }

    fn period(from: &str, to: &str) -> Period {
        let (from, to) = (at(from), at(to));
        Period { from, to }
    }

    fn weekly(zone: &str, text: &str) -> Schedule {
        let ranges = parse_ranges_text(text).expect("test ranges");
        let time_zone = zone.to_owned();
        Schedule::Weekly { time_zone, ranges }
    }

    /// Each line of `table` is "ranges | from | to | inside, …" (instants UTC): the
    /// ranges in `zone` lock exactly [from, to), which holds each `inside` instant.
    /// Lines starting with '#' are comments.
    fn locks(zone: &str, table: &str) {
        for line in table.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let fields: Vec<&str> = line.split('|').map(str::trim).collect();
            let (s, p) = (weekly(zone, fields[0]), period(fields[1], fields[2]));
            let before = p.from - TimeDelta::seconds(1);
            assert_eq!(s.active_at(before), None, "{line}: just before");
            assert_eq!(s.next_after(before), Some(p), "{line}: next just before");
            assert_eq!(s.active_at(p.from), Some(p), "{line}: at from");
            assert_eq!(s.active_at(p.to), None, "{line}: at to");
            for now in fields.get(3).into_iter().flat_map(|f| f.split(',')) {
                assert_eq!(s.active_at(at(now.trim())), Some(p), "{line}: at {now}");
            }
        }
    }

    #[test]
    fn boundaries_midnight_and_merging() {
        locks(
            "UTC",
            "# 2026-06-03 is a Wednesday; its start is inside, its end is not.
             Wed 12:00-13:00 | 2026-06-03 12:00 | 2026-06-03 13:00 | 2026-06-03 12:59:59
             Mon 09:00-12:00; Mon 12:00-14:00 | 2026-06-08 09:00 | 2026-06-08 14:00",
        );
        let next = period("2026-06-10 12:00", "2026-06-10 13:00");
        let s = weekly("UTC", "Wed 12:00-13:00");
        assert_eq!(s.next_after(at("2026-06-03 12:00")), Some(next));
        // Mon 2026-06-08 22:00 CEST to Tue 06:00 CEST; Tue 03:00 is inside.
        let table = "Mon 22:00-06:00 | 2026-06-08 20:00 | 2026-06-09 04:00 | 2026-06-09 01:00";
        locks("Europe/Berlin", table);
    }

    #[test]
    fn weekday_evenings_and_weekend() {
        let text = "Mon-Fri 15:30-09:00; Sat-Sun all day";
        // Fri 2026-06-05 15:30 CEST until Mon 00:00 CEST: Sunday's full day ends then,
        // and Monday's own range starts only at 15:30. Thursday's ends Fri 09:00.
        let table = format!(
            "{text} | 2026-06-05 13:30 | 2026-06-07 22:00 | 2026-06-05 14:00
             {text} | 2026-06-04 13:30 | 2026-06-05 07:00 | 2026-06-05 06:00"
        );
        locks("Europe/Berlin", &table);
        // Mon 02:00, 05:00 and 10:00 CEST are open; the next lock is Mon 15:30 to Tue 09:00.
        let s = weekly("Europe/Berlin", text);
        let monday = period("2026-06-08 13:30", "2026-06-09 07:00");
        for now in ["2026-06-08 00:00", "2026-06-08 03:00", "2026-06-08 08:00"] {
            assert_eq!(s.active_at(at(now)), None, "{now}");
            assert_eq!(s.next_after(at(now)), Some(monday), "{now}");
        }
    }

    #[test]
    fn berlin_daylight_saving() {
        locks(
            "Europe/Berlin",
            "# 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC; 02:30 means the jump.
             Sun 02:30-05:00 | 2026-03-29 01:00 | 2026-03-29 03:00
             Sat 22:00-02:30 | 2026-03-28 21:00 | 2026-03-29 01:00
             # 22:00-06:00 over it is 7 h; 01:59:59 CET and 03:00 CEST are inside.
             Sat 22:00-06:00 | 2026-03-28 21:00 | 2026-03-29 04:00 | 2026-03-29 00:59:59, 2026-03-29 01:00
             # 2026-10-25: 03:00 CEST goes back to 02:00 CET at 01:00 UTC; 02:30 comes at
             # 00:30 and 01:30 UTC and means the first, so 02:15 CET (01:15 UTC) is inside.
             Sun 02:30-04:00 | 2026-10-25 00:30 | 2026-10-25 03:00 | 2026-10-25 01:15
             Sat 22:00-02:30 | 2026-10-24 20:00 | 2026-10-25 00:30
             # 22:00-06:00 over it is 9 h.
             Sat 22:00-06:00 | 2026-10-24 20:00 | 2026-10-25 05:00 | 2026-10-25 00:59:59, 2026-10-25 01:00",
        );
    }

    #[test]
    fn new_york_daylight_saving() {
        locks(
            "America/New_York",
            "# 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00 UTC; 7 h for 22:00-06:00.
             Sun 02:30-05:00 | 2026-03-08 07:00 | 2026-03-08 09:00
             Sat 22:00-06:00 | 2026-03-08 03:00 | 2026-03-08 10:00 | 2026-03-08 06:59:59, 2026-03-08 07:00
             # 2026-11-01: 02:00 EDT goes back to 01:00 EST at 06:00 UTC; 01:30 means 05:30 UTC
             # (so 01:15 EST is inside); 9 h for 22:00-06:00.
             Sun 01:30-03:00 | 2026-11-01 05:30 | 2026-11-01 08:00 | 2026-11-01 06:15
             Sat 22:00-06:00 | 2026-11-01 02:00 | 2026-11-01 11:00 | 2026-11-01 05:59:59, 2026-11-01 06:00",
        );
    }

    #[test]
    fn once_window() {
        let p = period("2026-12-24 00:00", "2026-12-27 00:00");
        let Period { from, to } = p;
        let s = Schedule::Once { from, to };
        let cases = [
            ("2026-12-23 23:59:59", None, Some(p)),
            ("2026-12-24 00:00", Some(p), None),
            ("2026-12-26 23:59:59", Some(p), None),
            ("2026-12-27 00:00", None, None),
        ];
        for (now, active, next) in cases {
            let got = (s.active_at(at(now)), s.next_after(at(now)));
            assert_eq!(got, (active, next), "{now}");
        }
        assert_eq!(s.time_zone(), None);
        let text = "from 2026-12-24 00:00 UTC to 2026-12-27 00:00 UTC";
        assert_eq!(s.describe(), text);
    }

    #[test]
    fn describe_texts() {
        let s = weekly("Europe/Berlin", "Mon-Fri 15:30-09:00; Sat,Sun 00:00-00:00");
        let text = "Mon–Fri 15:30–09:00 (next day); Sat–Sun all day (Europe/Berlin)";
        assert_eq!(s.describe(), text);
        assert_eq!(s.time_zone(), Some(chrono_tz::Europe::Berlin));
        let s = weekly(
            "UTC",
            "Wed,Mon 12:00-13:00; Mon-Sun 01:00-02:00; Fri-Mon 18:00-18:00",
        );
        let text =
            "Mon, Wed 12:00–13:00; every day 01:00–02:00; Fri–Mon 18:00–18:00 (next day) (UTC)";
        assert_eq!(s.describe(), text);
    }

    #[test]
    fn text_round_trip() {
        let text = "Mon-Fri 15:30-09:00\nSat-Sun all day; Sat,Sun 00:00-00:00;Wed 12:00–13:00\n\
                    Fri–Mon 18:00-08:00; monday, Wednesday 9:05-10:00; tues-thurs 12:00-12:00";
        let ranges = parse_ranges_text(text).expect("parses");
        let texts: Vec<String> = ranges.iter().map(WeeklyRange::to_text).collect();
        let want = "Mon-Fri 15:30-09:00|Sat-Sun all day|Sat-Sun all day|Wed 12:00-13:00|\
                    Fri-Mon 18:00-08:00|Mon,Wed 09:05-10:00|Tue-Thu 12:00-12:00";
        assert_eq!(texts.join("|"), want);
        assert_eq!(ranges[4].days, [Mon, Fri, Sat, Sun]);
        for range in &ranges {
            assert_eq!(parse_ranges_text(&range.to_text()), Ok(vec![range.clone()]));
        }
        let err = parse_ranges_text("Mon-Fry 10:00-11:00; Tue 25:00-26:00; Mon,Mon all day");
        let want = "\"Mon-Fry 10:00-11:00\": unknown day \"Fry\"; \
                    \"Tue 25:00-26:00\": \"25:00\" is not HH:MM; \
                    \"Mon,Mon all day\": Mon is listed twice";
        assert_eq!(err, Err(want.to_owned()));
        let bad = " ;\n|T 10:00-11:00|Mon 009:00-10:00|Mon 9:0-10:00|Mon 10:00|Mon 10:00-";
        for bad in bad.split('|') {
            assert!(parse_ranges_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_parses_weekly_and_once() {
        let json = r#"{"kind":"weekly","time_zone":"Europe/Berlin",
            "ranges":[{"days":["sun","Sat"],"start":"00:00","end":"00:00"}]}"#;
        let req: ScheduleRequest = serde_json::from_str(json).expect("json");
        let s = req.parse().expect("valid");
        assert_eq!(s, weekly("Europe/Berlin", "Sat-Sun all day"));
        let json = serde_json::to_string(&s).expect("ser");
        assert!(
            json.starts_with(r#"{"kind":"weekly","time_zone":"Europe/Berlin""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Schedule>(&json).expect("de"), s);
        let json =
            r#"{"kind":"once","from":"2026-12-24T01:00:00+01:00","to":"2026-12-27T00:00:00Z"}"#;
        let req: ScheduleRequest = serde_json::from_str(json).expect("json");
        let Period { from, to } = period("2026-12-24 00:00", "2026-12-27 00:00");
        assert_eq!(req.parse(), Ok(Schedule::Once { from, to }));
    }

    #[test]
    fn request_reports_every_problem() {
        let problems = |json: &str| {
            let req: ScheduleRequest = serde_json::from_str(json).expect("json");
            let errors = req.parse().expect_err("invalid");
            errors
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let json = r#"{"kind":"weekly","time_zone":"Europe/Berlinn","ranges":[
            {"days":["mon"],"start":"25:00","end":"09:00"},
            {"days":[],"start":"10:00","end":"9am"},
            {"days":["Friday","fri","funday"],"start":"10:00"}]}"#;
        let want = "time_zone: unknown time zone \"Europe/Berlinn\"\n\
                    ranges[0].start: must be HH:MM\n\
                    ranges[1].days: pick at least one day\n\
                    ranges[1].end: must be HH:MM\n\
                    ranges[2].days: unknown day \"funday\"\n\
                    ranges[2].days: Fri is listed twice\n\
                    ranges[2].end: is required";
        assert_eq!(problems(json), want);
        let json = r#"{"kind":"once","from":"2026-12-27T00:00:00Z","to":"2026-12-24T00:00:00Z"}"#;
        assert_eq!(problems(json), "to: must be after from");
        let json = r#"{"kind":"once","from":"2026-01-01T00:00:00Z","to":"2027-01-03T00:00:00Z"}"#;
        assert_eq!(problems(json), "to: must be at most 366 days after from");
        let rfc = "must be an RFC 3339 time, e.g. 2026-12-24T00:00:00Z";
        let want = format!("from: is required\nto: {rfc}");
        assert_eq!(problems(r#"{"kind":"once","to":"soon"}"#), want);
        let want = "time_zone: is required\nranges: at least one range is required";
        assert_eq!(problems(r#"{"kind":"weekly"}"#), want);
        assert_eq!(problems("{}"), "kind: is required");
        assert_eq!(
            problems(r#"{"kind":"daily"}"#),
            r#"kind: must be "weekly" or "once""#
        );
    }
}
