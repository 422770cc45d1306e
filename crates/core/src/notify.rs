//! Telling people about verdicts: when a deploy turns ailing or unhealthy and when its
//! verdict becomes final, a Slack-compatible message goes to every webhook URL an
//! admin set. Which looks call for a message, the URLs' rules and the message itself
//! are here; a job in the server delivers them with retries.

use super::deploy::{Deploy, FieldError, ValidationErrors};
use super::headline::Headline;
use super::judge::{Evaluation, VerdictRule, VerdictState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The setting that holds the webhook URLs (a JSON list).
pub const WEBHOOKS_SETTING: &str = "notifications.webhooks";
pub const MAX_WEBHOOKS: usize = 10;
const MAX_WEBHOOK_LEN: usize = 2048;
/// Deliveries a message gets before it is given up as failed (10 s, 20 s, … apart).
pub const MAX_DELIVERY_ATTEMPTS: u32 = 8;

/// Why a message is sent.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// While baking, the reading turned ailing or unhealthy.
    TurnedBad,
    /// The verdict became final.
    Final,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::TurnedBad => "turned_bad",
            NoticeKind::Final => "final",
        }
    }

    pub fn parse(raw: &str) -> Option<NoticeKind> {
        [NoticeKind::TurnedBad, NoticeKind::Final]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }
}

/// A message to send: why, and the state it announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub state: VerdictState,
}

/// What a verdict said before a look: its state, its reading while baking, finality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Said {
    pub state: VerdictState,
    pub provisional: Option<VerdictState>,
    pub is_final: bool,
}

fn is_bad(state: VerdictState) -> bool {
    matches!(state, VerdictState::Ailing | VerdictState::Unhealthy)
}

/// The message a look calls for, if any: the verdict became final (not for a deploy
/// that did not succeed: its people know already), or its reading turned ailing or
/// unhealthy (or worse, ailing to unhealthy) while baking.
pub fn notice_for(before: Said, after: &Evaluation) -> Option<Notice> {
    if after.is_final && !before.is_final {
        return (after.rule != VerdictRule::DeployDidNotSucceed).then_some(Notice {
            kind: NoticeKind::Final,
            state: after.state,
        });
    }
    if after.is_final {
        return None;
    }
    let reading = after.provisional?;
    let was = before.provisional.unwrap_or(before.state);
    let worse = match (was, reading) {
        (VerdictState::Ailing, VerdictState::Unhealthy) => true,
        (was, now) => is_bad(now) && !is_bad(was),
    };
    worse.then_some(Notice {
        kind: NoticeKind::TurnedBad,
        state: reading,
    })
}

/// The webhook URLs from a form or file: one per line (blank lines ignored), http or
/// https, at most ten.
pub fn parse_webhooks(lines: &str) -> Result<Vec<String>, ValidationErrors> {
    let urls: Vec<String> = lines
        .lines()
        .map(str::trim_ascii)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let mut problems = Vec::new();
    if urls.len() > MAX_WEBHOOKS {
        problems.push(FieldError::new(
            "webhooks",
            format!("at most {MAX_WEBHOOKS} URLs, got {}", urls.len()),
        ));
    }
    for (i, url) in urls.iter().enumerate() {
        let lower = url.to_ascii_lowercase();
        let scheme = lower.starts_with("https://") || lower.starts_with("http://");
        let host = url.split_once("://").map_or("", |(_, rest)| rest);
        if !scheme
            || host.is_empty()
            || url.len() > MAX_WEBHOOK_LEN
            || url.contains(char::is_whitespace)
        {
            problems.push(FieldError::new(
                format!("webhooks[{i}]"),
                format!("must be an http or https URL of at most {MAX_WEBHOOK_LEN} characters, got {url:?}"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(urls)
    } else {
        Err(ValidationErrors(problems))
    }
}

/// The message for `deploy`: Slack's incoming-webhook JSON (`text` in its mrkdwn),
/// which Mattermost, Rocket.Chat and Discord's Slack endpoint also take.
pub fn slack_message(
    deploy: &Deploy,
    notice: Notice,
    headline: &Headline,
    link: Option<&str>,
) -> Value {
    let icon = match notice.state {
        VerdictState::Unhealthy => ":red_circle:",
        VerdictState::Ailing => ":large_orange_circle:",
        VerdictState::Healthy => ":large_green_circle:",
        VerdictState::CantTell => ":grey_question:",
        VerdictState::Baking | VerdictState::NoData => ":white_circle:",
    };
    let what = match notice.kind {
        NoticeKind::TurnedBad => format!("reads *{}* while baking", notice.state.label()),
        NoticeKind::Final => format!("is *{}* (final verdict)", notice.state.label()),
    };
    let author = deploy.author.as_deref().unwrap_or("an unknown author");
    let mut evidence: Vec<String> = headline
        .deltas
        .iter()
        .map(|d| format!("{} {}", d.metric, d.change_text()))
        .collect();
    if headline.new_error_groups > 0 {
        evidence.push(format!("{} new error groups", headline.new_error_groups));
    }
    if !headline.cant_tell.is_empty() {
        evidence.push(format!("can't tell: {}", headline.cant_tell.join(", ")));
    }
    let mut text = format!(
        "{icon} *{}* `{}` in {} {what} · deployed by {}",
        escape(deploy.service.as_str()),
        escape(&deploy.version),
        escape(deploy.environment.as_str()),
        escape(author),
    );
    if !evidence.is_empty() {
        text.push_str(&format!(" · {}", escape(&evidence.join(", "))));
    }
    if let Some(link) = link {
        text.push_str(&format!(" · <{link}|Open the deploy>"));
    }
    json!({ "text": text })
}

/// Slack's three control characters, escaped as its docs ask.
/// Text as Slack's mrkdwn shows it literally: `&`, `<` and `>` escaped, so a
/// reason cannot ping a channel (`<!channel>`) or disguise a link (`<url|text>`).
pub fn escape(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Where a message stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<DeliveryStatus> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A message and its delivery attempts, as admins see them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: i64,
    pub url: String,
    pub about: MessageAbout,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What a message tells.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "about", rename_all = "snake_case")]
pub enum MessageAbout {
    /// A deploy's verdict: its headline is written when the message is sent.
    Verdict {
        deploy_id: i64,
        kind: NoticeKind,
        state: VerdictState,
    },
    /// A lock placed or lifted, or an override granted: the text was written with
    /// the change.
    Lock { text: String },
}

/// The kind of stored messages about locks.
pub const LOCK_MESSAGE_KIND: &str = "lock";

/// A URL as admins may see it: the path of a Slack webhook is its secret, so only
/// the scheme, host and the path's first part are shown.
pub fn redact_webhook(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "…".to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // `user:password@host`: the credentials are a secret as much as the path.
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let first = tail
        .strip_prefix('/')
        .and_then(|path| path.split(['/', '?', '#']).next())
        .filter(|segment| !segment.is_empty());
    match (tail.is_empty(), first) {
        (true, _) if host.len() == authority.len() => format!("{scheme}://{host}"),
        (_, Some(first)) if tail.len() > first.len() + 1 => format!("{scheme}://{host}/{first}/…"),
        _ => format!("{scheme}://{host}/…"),
    }
}

/// A setting's value as the audit log keeps it: the webhook URLs redacted (the
/// log is append-only, and a webhook's path is its secret), anything else as is.
pub fn audited_setting(key: &str, value: &str) -> String {
    if key != WEBHOOKS_SETTING {
        return value.to_owned();
    }
    match serde_json::from_str::<Vec<String>>(value) {
        Ok(urls) => {
            let redacted: Vec<String> = urls.iter().map(|u| redact_webhook(u)).collect();
            serde_json::to_string(&redacted).unwrap_or_else(|_| "[…]".to_owned())
        }
        Err(_) => "…".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::VerdictReceipt;

    fn said(state: VerdictState, provisional: Option<VerdictState>, is_final: bool) -> Said {
        Said {
            state,
            provisional,
            is_final,
        }
    }

    fn look(state: VerdictState, provisional: Option<VerdictState>, is_final: bool) -> Evaluation {
        Evaluation {
            state,
            provisional,
            is_final,
            score: None,
            rule: VerdictRule::Score,
            receipt: VerdictReceipt::default(),
            next_look_at: DateTime::<Utc>::MIN_UTC,
        }
    }

    #[test]
    fn a_reading_turning_bad_and_a_verdict_becoming_final_are_told_once() {
        use VerdictState::{Ailing, Baking, Healthy, Unhealthy};
        let baking = |reading| said(Baking, reading, false);
        // Healthy so far → ailing so far: told.
        assert_eq!(
            notice_for(baking(Some(Healthy)), &look(Baking, Some(Ailing), false)),
            Some(Notice {
                kind: NoticeKind::TurnedBad,
                state: Ailing
            })
        );
        // Still ailing: not again; ailing → unhealthy: told.
        assert_eq!(
            notice_for(baking(Some(Ailing)), &look(Baking, Some(Ailing), false)),
            None
        );
        assert_eq!(
            notice_for(baking(Some(Ailing)), &look(Baking, Some(Unhealthy), false)),
            Some(Notice {
                kind: NoticeKind::TurnedBad,
                state: Unhealthy
            })
        );
        // Back to healthy while baking: quiet; the final verdict: told, whatever it is.
        assert_eq!(
            notice_for(baking(Some(Ailing)), &look(Baking, Some(Healthy), false)),
            None
        );
        assert_eq!(
            notice_for(baking(Some(Healthy)), &look(Healthy, None, true)),
            Some(Notice {
                kind: NoticeKind::Final,
                state: Healthy
            })
        );
        // A final verdict is told once.
        assert_eq!(
            notice_for(said(Healthy, None, true), &look(Healthy, None, true)),
            None
        );
        // A deploy that did not succeed: no message.
        let failed = Evaluation {
            rule: VerdictRule::DeployDidNotSucceed,
            ..look(VerdictState::NoData, None, true)
        };
        assert_eq!(notice_for(baking(None), &failed), None);
    }

    #[test]
    fn cant_tell_is_no_alarm_while_baking_and_is_told_when_final() {
        use VerdictState::{Baking, CantTell, Healthy};
        assert_eq!(
            notice_for(
                said(Baking, Some(Healthy), false),
                &look(Baking, Some(CantTell), false)
            ),
            None
        );
        assert_eq!(
            notice_for(
                said(Baking, Some(CantTell), false),
                &look(CantTell, None, true)
            ),
            Some(Notice {
                kind: NoticeKind::Final,
                state: CantTell
            })
        );
    }

    #[test]
    fn webhooks_are_http_urls_one_per_line() {
        let urls = parse_webhooks(
            "\n https://hooks.slack.com/services/T0/B0/x \n\nhttp://chat.local/hook\n",
        )
        .expect("valid");
        assert_eq!(
            urls,
            [
                "https://hooks.slack.com/services/T0/B0/x",
                "http://chat.local/hook"
            ]
        );
        let bad = parse_webhooks("ftp://x\nhttps://\nhttps://ok.example/a b").expect_err("invalid");
        let fields: Vec<_> = bad.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["webhooks[0]", "webhooks[1]", "webhooks[2]"]);
        assert!(parse_webhooks(&"https://x.example/\n".repeat(11)).is_err());
        assert_eq!(parse_webhooks("  ").expect("none"), Vec::<String>::new());
    }

    #[test]
    fn redacted_urls_keep_the_host_and_hide_the_secret_path() {
        assert_eq!(
            redact_webhook("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/services/…"
        );
        assert_eq!(redact_webhook("http://chat.local"), "http://chat.local");
        assert_eq!(redact_webhook("nonsense"), "…");
        assert_eq!(
            redact_webhook("http://127.0.0.1:3318/internal/admin/flush?key=s3cr3t"),
            "http://127.0.0.1:3318/internal/…"
        );
        assert_eq!(
            redact_webhook("https://chat.example?token=s3cr3t"),
            "https://chat.example/…"
        );
        assert_eq!(
            redact_webhook("https://bot:s3cr3t@chat.example"),
            "https://chat.example/…"
        );
        assert_eq!(
            redact_webhook("https://chat.example/s3cr3t"),
            "https://chat.example/…"
        );
        let audited = audited_setting(
            WEBHOOKS_SETTING,
            r#"["https://hooks.slack.com/services/T0/B0/s3cr3t"]"#,
        );
        assert!(!audited.contains("s3cr3t"), "{audited}");
        assert_eq!(audited_setting("other", "plain"), "plain");
    }
}
