#!/usr/bin/env python3
"""Plots the scale benchmark: for the overhead and budget scenarios, time to
Ready (cumulative) over the Aura calls per second (sharing the time axis; the
budget with the API's limit and any 429s); for the curve scenario, peak RSS,
CPU and time to Ready against the number of objects. Draws whichever of them
the JSON holds.

    python3 bench/plot.py target/bench/latest-full.json target/bench/time-to-ready-full.png

Needs matplotlib. When it is not importable, the script creates a virtualenv
under target/bench/venv (next to the output), installs matplotlib there with
pip and re-runs itself inside it, so a fresh machine needs only python3 with
the venv module and access to PyPI.
"""
import json
import os
import subprocess
import sys
import venv


def ensure_matplotlib(out_png):
    try:
        import matplotlib  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("AURA_BENCH_PLOT_IN_VENV"):
        sys.exit("matplotlib is still missing inside the virtualenv")
    venv_dir = os.path.join(os.path.dirname(os.path.abspath(out_png)), "venv")
    py = os.path.join(venv_dir, "bin", "python")
    if not os.path.exists(py):
        print(f"plot: creating {venv_dir} and installing matplotlib", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    check = subprocess.run([py, "-c", "import matplotlib"], capture_output=True)
    if check.returncode != 0:
        subprocess.run(
            [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "matplotlib"],
            check=True,
        )
    env = dict(os.environ, AURA_BENCH_PLOT_IN_VENV="1")
    os.execve(py, [py, os.path.abspath(__file__)] + sys.argv[1:], env)


def cumulative(times):
    xs = [0.0]
    ys = [0]
    for i, t in enumerate(sorted(times), start=1):
        xs += [t, t]
        ys += [i - 1, i]
    return xs, ys


def window_bound(m, d, rpm):
    """As benches/scale/bound.rs: the fastest the API's sliding window lets m
    instances reach Ready (tenant lookup + m creates + m GETs, at most rpm
    calls in any 60 s)."""
    if m == 0:
        return 0.0
    if rpm == 0:
        return d
    calls = 2 * m + 1
    return max(60.0 * ((calls - 1) // rpm), 60.0 * (m // rpm) + d, d)


def best_ready_times(m, d, rpm):
    """When each instance is seen running in the best schedule: the tenant
    lookup and the creates first, then the GETs in create order, each call as
    early as the window and its instance allow (its end is window_bound)."""
    calls = 2 * m + 1
    t = [0.0] * calls
    for k in range(calls):
        at = t[k - 1] if k > 0 else 0.0
        if k > m:
            at = max(at, t[k - m] + d)
        if rpm and k >= rpm:
            at = max(at, t[k - rpm] + 60.0)
        t[k] = at
    return t[m + 1:]


def timeline(d):
    """The simulator's timeline of [t, requests_total, too_many_requests]. The
    simulator starts at 0 calls; when the first sample (taken a second after
    the tracker started, in JSON written before it also sampled at its start)
    already holds calls, they came in the second before it."""
    tl = [list(x) for x in d.get("sim_timeline") or []]
    if tl and (tl[0][1] > 0 or tl[0][2] > 0):
        tl.insert(0, [tl[0][0] - 1.0, 0, 0])
    return tl


def apply_start(d):
    """(seconds since the bench's start of the first create, exact?). JSON
    written before apply_start_s existed: the last timeline sample before the
    Aura calls began."""
    if d.get("apply_start_s") is not None:
        return d["apply_start_s"], True
    tl = timeline(d)
    if not tl:
        return None, False
    prev = tl[0][0]
    for t, total, _ in tl:
        if total > tl[0][1]:
            return prev, False
        prev = t
    return tl[0][0], False


def operator_rpm(d):
    """The operator's client-side limit: as the bench read it, else from the
    metrics stored with the scenario."""
    rpm = d.get("operator_rate_limit_per_min")
    if rpm is None:
        rpm = d.get("operator_metrics", {}).get("aura_operator_aura_rate_limit_requests_per_minute")
    return rpm


def draw_time_to_ready(ax, key, d):
    times = d["time_to_ready_s"]
    n = d.get("n") or d.get("m") or len(times)
    xs, ys = cumulative(times)
    ax.plot(xs, ys, color="#1f77b4", linewidth=2, label="Ready (observed)")
    D = d.get("d_s", 0)
    ax.axvline(D, color="#7f7f7f", linestyle=":", label=f"D = {D:g} s (creation time)")
    last = d.get("all_ready_after_apply_s", 0)
    right = max([last] + list(times))
    if key == "overhead":
        ax.axvline(last, color="#d62728", linestyle="--",
                   label=f"all Ready {last:.1f} s (D + {last - D:.1f} s)")
        ax.axvline(d.get("apply_s", 0), color="#2ca02c", linestyle="-.",
                   label=f"all creates applied {d.get('apply_s', 0):.1f} s")
        title = f"1 overhead: {n} objects, unlimited API, poll {d.get('poll_interval', '?')}"
    else:
        rpm = d.get("api_rate_per_min", 125)
        # Older JSON has neither: both follow from m, D and the API's limit.
        issue = d.get("ideal_issue_s", n / rpm * 60.0 + D + 1.0)
        bound = d.get("window_bound_s", window_bound(n, D, rpm))
        ax.axvline(issue, color="#2ca02c", linestyle="--",
                   label=f"ideal (issue) {issue:.1f} s, ratio {issue / last:.2f}" if last else
                   f"ideal (issue) {issue:.1f} s")
        ax.axvline(bound, color="#9467bd", linestyle="--",
                   label=f"window bound {bound:.1f} s, ratio {bound / last:.2f}" if last else
                   f"window bound {bound:.1f} s")
        ax.axvline(last, color="#d62728", linestyle="--", label=f"all Ready {last:.1f} s")
        right = max(right, issue, bound)
        ix, iy = cumulative(best_ready_times(n, D, rpm))
        ax.plot(ix, iy, color="#9467bd", linewidth=1, alpha=0.6,
                label=f"best schedule under {rpm} calls / 60 s")
        op = operator_rpm(d)
        op = f", operator {op:.0f}/min" if op else ""
        title = (f"2 budget: {n} objects, API {rpm}/min and 15 tokens/h{op}, "
                 f"{d.get('too_many_requests', '?')} x 429")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("objects Ready")
    ax.set_ylim(0, n * 1.05)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return right


def draw_call_rate(ax, key, d):
    """Aura calls per second from the simulator's timeline of
    [t, requests_total, too_many_requests], once a second."""
    tl = timeline(d)
    start, exact = apply_start(d)
    if len(tl) < 2 or start is None:
        ax.text(0.5, 0.5, "no simulator timeline", ha="center", va="center",
                transform=ax.transAxes)
        return 0.0
    ts = [t - start for t, _, _ in tl]
    total = [r for _, r, _ in tl]
    limited = [x for _, _, x in tl]
    lefts, widths, rates = [], [], []
    for i in range(1, len(tl)):
        dt = ts[i] - ts[i - 1]
        if dt > 0:
            lefts.append(ts[i - 1])
            widths.append(dt)
            rates.append((total[i] - total[i - 1]) / dt)
    peak = max(rates) if rates else 0.0
    ax.bar(lefts, rates, width=widths, align="edge", color="#aec7e8",
           label=f"calls per second (1 s samples, peak {peak:.0f})")
    top = max(peak * 1.05, 1.0)
    if key == "budget":
        # Calls in the trailing 60 s, per second: what the API's window
        # counts. From the first sample no older than 60 s: with 1 s samples a
        # window reaching one sample further back would hold two bursts a
        # minute apart.
        trailing = []
        j = 0
        for i in range(len(tl)):
            while ts[j] < ts[i] - 60.0:
                j += 1
            trailing.append((total[i] - total[j]) / 60.0)
        ax.plot(ts, trailing, color="#1f77b4", linewidth=2,
                label="calls in the trailing 60 s / 60")
        top = max(max(trailing, default=0.0) * 1.3, 1.0)
        rpm = d.get("api_rate_per_min", 125)
        ax.axhline(rpm / 60.0, color="#d62728", linestyle="--",
                   label=f"API limit {rpm} per 60 s = {rpm / 60.0:.2f}/s")
        op = operator_rpm(d)
        if op:
            ax.axhline(op / 60.0, color="#ff7f0e", linestyle=":",
                       label=f"operator's limit {op:.0f}/min")
        top = max(top, rpm / 60.0 * 2.0)
        # Bursts far above the window's average would flatten the rest.
        if peak > top:
            ax.text(0.01, 0.97, f"1 s bars clipped at {top:.1f}/s", transform=ax.transAxes,
                    fontsize=7, va="top", color="#555555")
    ax.set_ylim(0, top)
    hits = [(ts[i], limited[i] - limited[i - 1]) for i in range(1, len(tl))
            if limited[i] > limited[i - 1]]
    if hits:
        ax.scatter([t for t, _ in hits], [top * 0.93] * len(hits), marker="x",
                   color="#d62728", zorder=5,
                   label=f"429 answers ({limited[-1] - limited[0]} in all)")
    where = "first create sent" if exact else "first create (estimated from the timeline)"
    ax.set_xlabel(f"seconds since the {where}")
    ax.set_ylabel("Aura calls / s")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return ts[-1]


def draw_curve(top, bottom, c):
    points = c.get("points", [])
    colors = {1: "#1f77b4", 5: "#ff7f0e"}
    for k in sorted({p["clients"] for p in points}):
        mine = sorted((p for p in points if p["clients"] == k), key=lambda p: p["n"])
        ns = [p["n"] for p in mine]
        color = colors.get(k)
        label = f"{k} client id" + ("s" if k != 1 else "")
        top.plot(ns, [p["peak_rss_mib"] for p in mine], marker="o", color=color, label=label)
        for p in mine:
            top.annotate(f"{p['peak_rss_mib']:.1f}", (p["n"], p["peak_rss_mib"]),
                         textcoords="offset points", xytext=(4, 4), fontsize=7)
        bottom.plot(ns, [p["cpu_s"] for p in mine], marker="o", color=color,
                    label=f"CPU to all Ready, {label}")
        bottom.plot(ns, [p["time_to_ready_s"] for p in mine], marker="s", linestyle="--",
                    color=color, alpha=0.7, label=f"time to all Ready, {label}")
    target = c.get("rss_target_mib_at_1000", 32)
    top.axhline(target, color="#d62728", linestyle="--",
                label=f"target {target:g} MiB at 1,000 objects (1 client id)")
    top.set_title(f"6 curve: one operator per point, unlimited API, D = {c.get('d_s', '?')} s",
                  fontsize=10)
    top.set_ylabel("operator peak RSS (VmHWM), MiB")
    top.set_ylim(bottom=0)
    top.grid(True, alpha=0.3)
    top.legend(loc="lower right", fontsize=8)
    bottom.set_xlabel("objects")
    bottom.set_ylabel("seconds")
    bottom.set_ylim(bottom=0)
    bottom.grid(True, alpha=0.3)
    bottom.legend(loc="best", fontsize=8)
    top.set_xlim(0, max(p["n"] for p in points) * 1.08)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    ensure_matplotlib(out)
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["font.family"] = "DejaVu Sans"
    import matplotlib.pyplot as plt

    with open(src) as f:
        data = json.load(f)
    scale = data.get("scale", {}).get("name", "?")
    columns = [k for k in ("overhead", "budget") if data.get(k, {}).get("time_to_ready_s")]
    if data.get("curve", {}).get("points"):
        columns.append("curve")
    if not columns:
        sys.exit("plot: no time-to-Ready or curve data in " + src)
    ncol = len(columns)
    fig = plt.figure(figsize=(6.5 * ncol, 9.0))
    for j, key in enumerate(columns):
        top = fig.add_subplot(2, ncol, j + 1)
        bottom = fig.add_subplot(2, ncol, ncol + j + 1, sharex=top)
        if key == "curve":
            draw_curve(top, bottom, data[key])
            continue
        right = max(draw_time_to_ready(top, key, data[key]),
                    draw_call_rate(bottom, key, data[key]))
        top.tick_params(labelbottom=False)
        top.set_xlim(0, right * 1.02 if right > 0 else 1)
    fig.suptitle(f"aura-operator scale benchmark ({scale} scale)", fontsize=12)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: wrote {out}")


if __name__ == "__main__":
    main()
