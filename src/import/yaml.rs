//! YAML for kubectl: quoted where a YAML 1.1 reader would take a string for
//! something else.

use std::fmt::Write as _;

use serde_yaml::{Mapping, Value};

/// A manifest as YAML that every reader takes the same way. kubectl reads
/// YAML 1.1, where a plain `Off`, `yes` or `on` is a boolean and `1234e100`
/// a number, so such strings are quoted here (serde_yaml writes YAML 1.2 and
/// leaves them plain).
pub(super) fn yaml_of(doc: &Value) -> String {
    let mut out = String::new();
    if let Value::Mapping(m) = doc {
        emit_mapping(&mut out, m, 0);
    }
    out
}

pub(super) fn emit_mapping(out: &mut String, m: &Mapping, indent: usize) {
    for (k, v) in m {
        let key = scalar(k);
        match v {
            Value::Mapping(inner) if !inner.is_empty() => {
                let _ = writeln!(out, "{:indent$}{key}:", "");
                emit_mapping(out, inner, indent + 2);
            }
            Value::Mapping(_) => {
                let _ = writeln!(out, "{:indent$}{key}: {{}}", "");
            }
            v => {
                let _ = writeln!(out, "{:indent$}{key}: {}", "", scalar(v));
            }
        }
    }
}

pub(super) fn scalar(v: &Value) -> String {
    match v {
        Value::String(text) if is_plain(text) => text.clone(),
        Value::String(text) => quoted(text),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "null".into(),
        other => serde_json::to_string(other).unwrap_or_else(|_| "null".into()),
    }
}

/// Whether `text` reads back as this very string, unquoted, in YAML 1.1
/// and 1.2: letters, digits and `-./`, starting with a letter or digit; no
/// boolean or null word; and, starting with a digit, a letter other than an
/// exponent's and no `0x`, `0o` or `0b` prefix (so `8GB` and `0a1b2c3d` stay
/// plain, `00012345`, `1234e100` and `0x1f` do not).
pub(super) fn is_plain(text: &str) -> bool {
    const WORDS: [&str; 9] = ["y", "yes", "n", "no", "true", "false", "on", "off", "null"];
    let Some(first) = text.chars().next() else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/'))
        && !WORDS.iter().any(|w| w.eq_ignore_ascii_case(text))
        && (!first.is_ascii_digit()
            || (text
                .chars()
                .any(|c| c.is_ascii_alphabetic() && !"eE".contains(c))
                && !["0x", "0o", "0b"]
                    .iter()
                    .any(|p| text.get(..2).is_some_and(|h| h.eq_ignore_ascii_case(p)))))
}

/// A YAML double-quoted scalar in which every character a reader could take
/// for a line break, or that is no printable text, is an escape: anything
/// Aura sends is data, never structure (YAML 1.1 readers, kubectl's among
/// them, also break lines at a lone CR, NEL, LS and PS).
pub(super) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if inert(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// Whether a character is plain text to every YAML reader: not a control
/// character (C0, DEL, C1), not a line or paragraph separator, not a byte
/// order mark or a noncharacter.
fn inert(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
        ))
}

/// Comment lines: one per `\n` of `text`; every other character that is not
/// inert text is written as a visible escape, so that no reader ends the
/// comment early and reads the rest as YAML.
pub(super) fn comment(out: &mut String, text: &str) {
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        let line: String = line
            .chars()
            .map(|c| {
                if inert(c) || c == '\t' {
                    c.to_string()
                } else {
                    format!("\\u{:04X}", u32::from(c))
                }
            })
            .collect();
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
}
