"""Chart of a benchmark run: throughput and event-loop delay per contender.
Usage: python3 chart.py results/latest.json results/chart.png"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = ["cdc-cache", "kafkajs-each-message", "kafkajs-batch-pipeline", "confluent-batch-pipeline",
         "limit-raw-consume", "limit-redis-del-pipelined"]
COLORS = {"cdc-cache": "#1b7837", "kafkajs-each-message": "#d6604d", "kafkajs-batch-pipeline": "#f4a582",
          "confluent-batch-pipeline": "#92c5de", "limit-raw-consume": "#bababa", "limit-redis-del-pipelined": "#878787"}


def main(src, dst):
    results = json.load(open(src))
    meta = results["meta"]
    names = [n for n in ORDER if n in results and results[n].get("events_per_sec")]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1.25, 1]})

    eps = [results[n]["events_per_sec"] for n in names]
    lo = [results[n]["events_per_sec"] - results[n].get("events_per_sec_min", results[n]["events_per_sec"]) for n in names]
    hi = [results[n].get("events_per_sec_max", results[n]["events_per_sec"]) - results[n]["events_per_sec"] for n in names]
    labels = [n + (" †" if results[n].get("time_boxed") else "") for n in names]
    bars = ax1.barh(labels, eps, xerr=[lo, hi], color=[COLORS[n] for n in names], capsize=3)
    for bar, n in zip(bars, names):
        if n.startswith("limit-"):
            bar.set_hatch("//")
    for y, (v, h) in enumerate(zip(eps, hi)):
        ax1.text((v + h) * 1.12, y, f"{v:,.0f}", va="center", fontsize=9)
    ax1.set_xscale("log")
    ax1.set_xlim(min(eps) / 2, max(eps) * 6)
    ax1.invert_yaxis()
    ax1.set_xlabel("events/s (log scale), median of repetitions, whiskers min–max")
    ax1.set_title(f"Backlog of {meta['n']:,} Debezium events → Redis deletes")

    consumers = [n for n in names if not n.startswith("limit-") and results[n].get("loop_delay_p99_ms") is not None]
    p99 = [max(results[n]["loop_delay_p99_ms"], 0.01) for n in consumers]
    mx = [max(results[n].get("loop_delay_max_ms") or 0, 0.01) for n in consumers]
    y = range(len(consumers))
    ax2.barh([i - 0.2 for i in y], p99, height=0.4, color=[COLORS[n] for n in consumers], label="p99")
    ax2.barh([i + 0.2 for i in y], mx, height=0.4, color=[COLORS[n] for n in consumers], alpha=0.45, label="max")
    for i, (a, b) in enumerate(zip(p99, mx)):
        ax2.text(a * 1.1, i - 0.2, f"p99 {a:.2f}", va="center", fontsize=8)
        ax2.text(b * 1.1, i + 0.2, f"max {b:.1f}", va="center", fontsize=8)
    ax2.set_yticks(list(y))
    ax2.set_yticklabels(consumers)
    ax2.set_xscale("log")
    ax2.set_xlim(min(p99 + mx) / 2, max(p99 + mx) * 8)
    ax2.axvline(5, color="#555", linestyle="--", linewidth=1)
    ax2.text(5, len(consumers) - 0.45, " 5 ms target", fontsize=8, color="#555")
    ax2.invert_yaxis()
    ax2.set_xlabel("event-loop delay while consuming, ms (log scale)")
    ax2.set_title("Event-loop delay in the consuming process")

    foot = (f"{meta['mode']} run {meta['run_id']}, {meta['reps']} repetitions, {meta['machine']['cpus']} cores, "
            f"load avg at start {meta['machine']['load_avg_at_start'][0]}")
    if any(results[n].get("time_boxed") for n in names):
        foot += "; † time-boxed run, rate over the applied prefix"
    skipped = [k for k, v in meta.get("skipped", {}).items()]
    if skipped:
        foot += "; not run: " + ", ".join(skipped)
    fig.text(0.01, 0.01, foot, fontsize=8, color="#444")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
