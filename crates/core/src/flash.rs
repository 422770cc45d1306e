//! A form's error carried across its redirect in a short-lived cookie (a "flash"),
//! never in the query string: a link cannot put words in Houston's error banner
//! (security review N14). Only the server sets the cookie; the page shows it once
//! and the browser deletes it after showing it.

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The cookie's name.
pub const FLASH_COOKIE: &str = "houston_flash";

/// How long the cookie lives if the page it leads to never loads (seconds).
pub const FLASH_MAX_AGE_SECONDS: u32 = 60;

/// The longest message a flash carries (characters); longer ones are cut.
pub const FLASH_MAX_CHARS: usize = 300;

/// The message as it should read: one line of printable characters, at most
/// [`FLASH_MAX_CHARS`]; `None` when nothing printable is left.
pub fn clean_flash(message: &str) -> Option<String> {
    let line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| !crate::is_invisible_format(*c))
        .take(FLASH_MAX_CHARS)
        .collect();
    let line = line.trim();
    (!line.is_empty()).then(|| line.to_owned())
}

/// `Set-Cookie` carrying `message` to the next page.
pub fn set_flash_cookie(message: &str) -> Option<String> {
    let message = clean_flash(message)?;
    Some(format!(
        "{FLASH_COOKIE}={}; Path=/; SameSite=Strict; Max-Age={FLASH_MAX_AGE_SECONDS}",
        utf8_percent_encode(&message, NON_ALPHANUMERIC)
    ))
}

/// `Set-Cookie` (or `document.cookie`) that removes the flash.
pub fn clear_flash_cookie() -> String {
    format!("{FLASH_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0")
}

/// The flash message in a `Cookie` header (or `document.cookie`), cleaned again.
pub fn flash_in(cookies: &str) -> Option<String> {
    let raw = cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == FLASH_COOKIE)
        .map(|(_, v)| v.trim())?;
    clean_flash(&percent_decode_str(raw).decode_utf8_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_the_round_trip() {
        let set = set_flash_cookie("reason: is required; ünïcode & = ;").expect("a cookie");
        let value = set.split(';').next().expect("a value");
        assert_eq!(
            flash_in(&format!("a=1; {value}; b=2")).as_deref(),
            Some("reason: is required; ünïcode & = ;")
        );
    }

    #[test]
    fn only_one_printable_line_is_shown() {
        assert_eq!(clean_flash("a\nb\u{202e}c").as_deref(), Some("a bc"));
        assert_eq!(clean_flash(" \n\t "), None);
        assert_eq!(
            clean_flash(&"x".repeat(1000)).map(|m| m.len()),
            Some(FLASH_MAX_CHARS)
        );
        assert_eq!(set_flash_cookie("\n"), None);
    }

    #[test]
    fn other_cookies_are_not_the_flash() {
        assert_eq!(flash_in("houston_flash_x=abc; houston_session=1"), None);
        assert_eq!(flash_in(""), None);
        assert_eq!(flash_in("houston_flash="), None);
    }
}
