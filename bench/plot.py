#!/usr/bin/env python3
"""Plots time-to-Ready (cumulative) for the overhead and budget scenarios of the
scale benchmark.

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
    panels = [k for k in ("overhead", "budget") if data.get(k, {}).get("time_to_ready_s")]
    if not panels:
        sys.exit("plot: no time-to-Ready data in " + src)
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    for ax, key in zip(axes[0], panels):
        d = data[key]
        times = d["time_to_ready_s"]
        n = d.get("n") or d.get("m") or len(times)
        xs, ys = cumulative(times)
        ax.plot(xs, ys, color="#1f77b4", linewidth=2, label="Ready (observed)")
        D = d.get("d_s", 0)
        ax.axvline(D, color="#7f7f7f", linestyle=":", label=f"D = {D:g} s (creation time)")
        if key == "overhead":
            last = d.get("all_ready_after_apply_s", 0)
            ax.axvline(last, color="#d62728", linestyle="--",
                       label=f"all Ready {last:.1f} s (D + {last - D:.1f} s)")
            ax.axvline(d.get("apply_s", 0), color="#2ca02c", linestyle="-.",
                       label=f"all creates applied {d.get('apply_s', 0):.1f} s")
            title = f"1 overhead: {n} objects, unlimited API, poll {d.get('poll_interval', '?')}"
        else:
            ideal = d.get("ideal_s", 0)
            ax.axvline(ideal, color="#2ca02c", linestyle="--", label=f"ideal {ideal:.1f} s")
            last = d.get("all_ready_after_apply_s", 0)
            ax.axvline(last, color="#d62728", linestyle="--",
                       label=f"all Ready {last:.1f} s (ratio {d.get('ratio', 0):.2f})")
            # The ideal curve: calls at the operator's rate, 2 per instance after
            # token + tenant, each Ready D after its create at the earliest.
            rate = d.get("rate_per_min", 100) / 60.0
            ideal_times = [(2 + 2 * (i + 1)) / rate + D for i in range(n)]
            ix, iy = cumulative(ideal_times)
            ax.plot(ix, iy, color="#2ca02c", linewidth=1, alpha=0.6, label="ideal at 100 calls/min")
            title = (f"2 budget: {n} objects, 125/min and 15 tokens/h, "
                     f"{d.get('too_many_requests', '?')} x 429")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("seconds since the first create was sent")
        ax.set_ylabel("objects Ready")
        ax.set_ylim(0, n * 1.05)
        ax.set_xlim(left=0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"aura-operator time to Ready ({scale} scale)", fontsize=12)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: wrote {out}")


if __name__ == "__main__":
    main()
