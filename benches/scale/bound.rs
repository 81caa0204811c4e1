//! The fastest the Aura API's sliding window lets `m` instances reach Ready,
//! whatever the operator does: the lower bound of the budget scenario.
//! Tested in `benches/scale_bound.rs` (this bench runs without libtest, so a
//! `#[test]` here would never run).

/// Seconds from the first call to the last instance seen running, at best,
/// for `m` instances that take `d` seconds to create, under a limit of `rpm`
/// `/v1` calls in any 60 s (0: unlimited).
///
/// The calls that cannot be avoided: one tenant lookup, then per instance the
/// create and one GET that sees it running (the list endpoint carries no
/// status, so it cannot stand in for the GET). The token call is not among
/// them: `/oauth/token` is limited per hour, not by this window (the
/// simulator counts only `/v1` calls in it). That is W = 2m + 1 calls.
///
/// With the calls in time order t_1 <= ... <= t_W and t_1 = 0, no window of
/// 60 s holds more than `rpm` of them, so t_(k+rpm) >= t_k + 60, hence
/// t_k >= 60 * floor((k - 1) / rpm). Three bounds follow:
///
/// - the last call: 60 * floor((W - 1) / rpm) = 60 * floor(2m / rpm);
/// - the last create is call m + 1 at the earliest (the tenant lookup comes
///   first, and every GET that sees an instance running comes after its
///   create), and its GET comes d later: 60 * floor(m / rpm) + d;
/// - the first GET that sees anything running: d.
///
/// The bound is the largest of them. It is reached: the tenant lookup and the
/// creates as early as the window allows, then each GET as soon as both its
/// instance is running and the window allows (`scale_bound.rs` checks the
/// formula against that schedule). For m = 50, d = 20 s: 101 calls fit in one
/// window, 20 s. For m = 200, d = 20 s: 401 calls need four windows, 180 s.
///
/// (Counting the token call in the window, N = 2m + 2 and
/// 60 * floor((N - 1) / rpm), gives one window too many when 2m + 1 is a
/// multiple of `rpm`, e.g. m = 62: 60 s instead of 20 s.)
pub fn window_bound(m: usize, d: f64, rpm: u32) -> f64 {
    if m == 0 {
        return 0.0;
    }
    if rpm == 0 {
        return d;
    }
    let rpm = rpm as usize;
    let windows = |k: usize| 60.0 * (k / rpm) as f64;
    let calls = 2 * m + 1;
    windows(calls - 1).max(windows(m) + d).max(d)
}

/// The issue's ideal: `m` creates at `rpm` per minute, the creation time `d`,
/// and one second for the GET that sees the last instance running. It leaves
/// the GETs out of the window, so above `rpm / 2` instances no operator can
/// reach it; [`window_bound`] is the bound that counts them.
pub fn issue_ideal(m: usize, d: f64, rpm: u32) -> f64 {
    if rpm == 0 {
        return d + 1.0;
    }
    m as f64 / f64::from(rpm) * 60.0 + d + 1.0
}
