//! Cron schedules (UTC): scheduled snapshots and password rotations.

use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::{Timestamp, tz::TimeZone};

/// A cron expression of five fields, or six with seconds first; UTC; at
/// most hourly (DESIGN 4.14: Aura itself snapshots at most hourly, and each
/// snapshot or rotation costs calls and writes), so the minute field (and the second field)
/// is a single number. The CRD refuses the rest at admission; this holds it
/// for objects stored before.
pub fn parse(field: &str, expression: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let single = |f: &str| !f.is_empty() && f.len() <= 2 && f.chars().all(|c| c.is_ascii_digit());
    let at_most_hourly = match fields.as_slice() {
        [minute, _, _, _, _] => single(minute),
        [second, minute, _, _, _, _] => single(second) && single(minute),
        _ => true, // the parser says what is wrong
    };
    if !at_most_hourly {
        return Err(format!(
            "{field} {expression:?} runs more often than hourly: the minute (and second) field must be one number, for example \"0 * * * *\" for hourly"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| format!("{field} {expression:?} is not a cron expression: {e}"))
}

/// What the schedule asks for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Take the snapshot of this slot (the latest one passed: missed slots
    /// are not taken one by one).
    Take { slot: Timestamp },
    /// Nothing until this long from now.
    Wait(Duration),
}

/// The latest slot at or before `now`, taken if it is later than the
/// reference: the last scheduled snapshot's slot, else the object's
/// creation (a new object does not snapshot a slot from before it existed).
pub fn due(cron: &Cron, last_slot: Option<Timestamp>, created: Timestamp, now: Timestamp) -> Due {
    let now_z = now.to_zoned(TimeZone::UTC);
    let reference = last_slot.unwrap_or(created);
    if let Ok(slot) = cron.find_previous_occurrence(&now_z, true)
        && slot.timestamp() > reference
    {
        return Due::Take {
            slot: slot.timestamp(),
        };
    }
    match cron.find_next_occurrence(&now_z, false) {
        Ok(next) => Due::Wait(
            now.duration_until(next.timestamp())
                .unsigned_abs()
                .max(Duration::from_millis(200)),
        ),
        // A pattern that never matches again: look on the slow timer.
        Err(_) => Due::Wait(Duration::from_secs(3600)),
    }
}
