//! Unit tests of the scale benchmark's budget bound (`benches/scale/bound.rs`).
//!
//! `benches/scale.rs` runs without libtest (`harness = false`), so tests in it
//! would be compiled but never run. Cargo finds this file by itself as a bench
//! target with the libtest harness: `cargo test --all-targets` runs these tests
//! (and `cargo bench` lists them as ignored).

#[path = "scale/bound.rs"]
mod bound;

use bound::{issue_ideal, window_bound};

#[test]
fn window_bound_table() {
    // (m, d, rpm, bound in seconds)
    let cases: &[(usize, f64, u32, f64)] = &[
        (0, 20.0, 125, 0.0),
        (1, 20.0, 125, 20.0),
        // 101 calls: one window; the creates' D is all that is left.
        (50, 20.0, 125, 20.0),
        // 125 calls (tenant + 62 creates + 62 GETs) still fit in one window.
        (62, 20.0, 125, 20.0),
        // 127 calls: the last one waits for the second window.
        (63, 20.0, 125, 60.0),
        // 401 calls: four windows, the last at 180 s.
        (200, 20.0, 125, 180.0),
        // The last create waits for the second window (m + 1 > 125), then D.
        (125, 100.0, 125, 160.0),
        // 12 objects of the small scale: D.
        (12, 5.0, 125, 5.0),
        // Unlimited: D.
        (1000, 5.0, 0, 5.0),
        // One call a minute: 2m + 1 calls, the last at 60 * 2m.
        (3, 5.0, 1, 360.0),
    ];
    for &(m, d, rpm, want) in cases {
        let got = window_bound(m, d, rpm);
        assert!(
            (got - want).abs() < 1e-9,
            "window_bound({m}, {d}, {rpm}) = {got}, want {want}"
        );
    }
}

/// The end of the best schedule: the tenant lookup, the creates, then the
/// GETs in create order, each call as early as the window (no more than `rpm`
/// calls in any 60 s) and its instance (running `d` after its create) allow.
fn best_schedule_end(m: usize, d: f64, rpm: usize) -> f64 {
    let calls = 2 * m + 1;
    let mut t = vec![0.0f64; calls];
    for k in 0..calls {
        let mut at = if k > 0 { t[k - 1] } else { 0.0 };
        if k > m {
            // The GET of the create that was call k - m.
            at = at.max(t[k - m] + d);
        }
        if k >= rpm {
            at = at.max(t[k - rpm] + 60.0);
        }
        t[k] = at;
    }
    t[calls - 1]
}

#[test]
fn window_bound_is_reached_by_the_best_schedule() {
    for rpm in [1usize, 2, 7, 125] {
        for m in 1..=600 {
            for d in [0.0, 0.5, 5.0, 20.0, 59.0, 60.0, 61.0, 100.0, 250.0] {
                let bound = window_bound(m, d, rpm as u32);
                let best = best_schedule_end(m, d, rpm);
                assert!(
                    (bound - best).abs() < 1e-9,
                    "m {m}, d {d}, rpm {rpm}: bound {bound}, best schedule {best}"
                );
            }
        }
    }
}

#[test]
fn issue_ideal_counts_creates_d_and_one_second() {
    assert!((issue_ideal(50, 20.0, 125) - 45.0).abs() < 1e-9);
    assert!((issue_ideal(200, 20.0, 125) - 117.0).abs() < 1e-9);
    // Below the window bound once the GETs no longer fit: 117 s < 180 s.
    assert!(issue_ideal(200, 20.0, 125) < window_bound(200, 20.0, 125));
}
