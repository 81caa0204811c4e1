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
        // A JSON string is a YAML double-quoted scalar, escapes included.
        Value::String(text) => serde_json::to_string(text).expect("a string serialises"),
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

pub(super) fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
}
