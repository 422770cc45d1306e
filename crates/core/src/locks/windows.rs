//! Freeze windows as the locks page writes and shows them (the schedules themselves
//! are `freeze.rs`).

use super::*;

/// A freeze window as pages show it: the schedule in words, whether it holds now,
/// and when deploys next close and open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeView {
    pub id: i64,
    pub name: String,
    pub note: Option<String>,
    pub environment: Option<EnvironmentName>,
    pub service: Option<ServiceName>,
    /// "Mon–Fri 15:30–09:00 (next day); Sat–Sun all day (Europe/Berlin)".
    pub description: String,
    /// `weekly` or `once`.
    pub kind: String,
    /// The window's IANA zone (weekly windows).
    pub time_zone: Option<String>,
    /// The weekly ranges as the form writes them, one per line.
    pub ranges_text: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// When it closed deploys and when it opens them again, if active now.
    pub active: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The next closing after now and its opening.
    pub next: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Closing and opening times in the window's own zone, written out.
    pub active_local: Option<(String, String)>,
    pub next_local: Option<(String, String)>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

impl FreezeView {
    pub fn scope(&self) -> LockScope {
        LockScope {
            environment: self.environment.clone(),
            service: self.service.clone(),
        }
    }
}

/// The form's fields for a freeze window (create or edit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct FreezeForm {
    pub name: Option<String>,
    pub note: Option<String>,
    pub environment: Option<String>,
    pub service: Option<String>,
    /// `weekly` or `once`.
    pub kind: Option<String>,
    pub time_zone: Option<String>,
    /// Weekly ranges, one per line: "Mon-Fri 15:30-09:00", "Sat-Sun all day".
    pub ranges: Option<String>,
    /// One-off: RFC 3339 or `YYYY-MM-DDTHH:MM` in `time_zone` (UTC when none).
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The parts of a freeze window the schedule does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeHeader {
    pub name: String,
    pub note: Option<String>,
    pub scope: LockScope,
}

impl FreezeForm {
    /// Name, note and scope; the schedule is parsed by `freeze::schedule_of_form`.
    pub fn header(&self, p: &mut Vec<FieldError>) -> Option<FreezeHeader> {
        let mut problems = Problems::default();
        let name = self.name.as_deref().map(str::trim).unwrap_or("");
        if name.is_empty() {
            problems.add("name", "is required");
        } else if name.chars().count() > MAX_WINDOW_NAME_CHARS {
            problems.add(
                "name",
                format!("must be at most {MAX_WINDOW_NAME_CHARS} characters"),
            );
        }
        let note = parse_note(&mut problems, "note", self.note.as_deref());
        let scope = LockScope::parse_into(
            &mut problems,
            self.environment.as_deref(),
            self.service.as_deref(),
        );
        let ok = problems.is_empty();
        p.extend(problems.into_errors().0);
        match scope {
            Some(scope) if ok => Some(FreezeHeader {
                name: name.to_owned(),
                note,
                scope,
            }),
            _ => None,
        }
    }
}
