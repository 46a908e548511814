#!/usr/bin/env python3
"""Plots and a Markdown summary of the soak phases in OUT (benchmarks/soak/run.sh calls this).

Per phase: RSS and open files of `mailroom serve` over time, and p99 API latency per window, each
with the faults marked; then one table of the exactly-once checks and the recovery times.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def plot_phase(directory, name):
    with open(os.path.join(directory, "samples.json")) as handle:
        data = json.load(handle)
    samples = [s for s in data["samples"] if s[1] is not None]
    events = data["events"]
    figure, (memory, latency) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    minutes = [s[0] / 60 for s in samples]
    memory.plot(minutes, [s[1] / 1024 for s in samples], label="RSS (MiB)", color="tab:blue")
    memory.set_ylabel("RSS (MiB)")
    files = memory.twinx()
    files.plot(minutes, [s[2] for s in samples], label="open files", color="tab:orange")
    files.set_ylabel("open files")
    memory.set_title(f"soak phase {name}: mailroom serve")
    window = 30.0
    buckets = {}
    for at, seconds, status in data["latencies"]:
        buckets.setdefault(int(at // window), []).append(seconds)
    keys = sorted(buckets)
    latency.plot([(k * window + window / 2) / 60 for k in keys], [percentile(buckets[k], 0.99) * 1000 for k in keys],
                 color="tab:green", label="p99 per 30 s")
    latency.set_ylabel("API p99 latency (ms)")
    latency.set_yscale("log")
    latency.set_xlabel("minutes")
    for axis in (memory, latency):
        for at, text in events:
            if text.startswith("fault") or "back" in text or "freed" in text:
                axis.axvline(at / 60, color="grey", linestyle=":", linewidth=1)
    for at, text in events:
        if text.startswith("fault"):
            latency.annotate(text.replace("fault: ", ""), (at / 60, latency.get_ylim()[1]), fontsize=7, rotation=90,
                             va="top", ha="right")
    figure.tight_layout()
    path = os.path.join(directory, f"soak-{name}.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    overall = [seconds for _, seconds, _ in data["latencies"]]
    rss = [s[1] for s in samples]
    fds = [s[2] for s in samples]
    third = max(1, len(samples) // 3)
    return {
        "plot": path, "p99ms": (percentile(overall, 0.99) or 0) * 1000, "p50ms": (percentile(overall, 0.5) or 0) * 1000,
        "rssFirstThirdMiB": max(rss[:third]) / 1024 if rss else None, "rssLastThirdMiB": max(rss[-third:]) / 1024 if rss else None,
        "filesFirstThird": max(fds[:third]) if fds else None, "filesLastThird": max(fds[-third:]) if fds else None,
    }


def main(out):
    lines = ["| phase | delivered | stored | missing | stored twice | left on server | replies | sent | unsent | sent twice | "
             "API p50 / p99 ms | RSS max first / last third MiB | open files first / last third |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    recoveries = ["| phase | fault | recovered in | measured |", "| --- | --- | --- | --- |"]
    notes = []
    for name in sorted(os.listdir(out)):
        directory = os.path.join(out, name)
        if not os.path.isfile(os.path.join(directory, "summary.json")):
            continue
        with open(os.path.join(directory, "summary.json")) as handle:
            summary = json.load(handle)
        figures = plot_phase(directory, name)
        lines.append(f"| {name} ({summary['database']}) | {summary['delivered']} | {summary['stored']} | {summary['missing']} | "
                     f"{summary['storedTwice']} | {summary['leftOnServer']} | {summary['replies']} | {summary['sent']} | "
                     f"{summary['unsent']} | {summary['sentTwice']} | {figures['p50ms']:.0f} / {figures['p99ms']:.0f} | "
                     f"{figures['rssFirstThirdMiB']:.0f} / {figures['rssLastThirdMiB']:.0f} | "
                     f"{figures['filesFirstThird']} / {figures['filesLastThird']} |")
        for recovery in summary["recoveries"]:
            seconds = recovery["seconds"]
            shown = "not within the wait" if seconds is None else f"{seconds:.0f} s"
            if recovery.get("apiSeconds") is not None:
                shown += f" (API answering after {recovery['apiSeconds']:.1f} s)"
            recoveries.append(f"| {name} | {recovery['fault']} | {shown} | {recovery['measure']} |")
        for note in summary["notes"]:
            if "diskFull" in note:
                full = note["diskFull"]
                answer = (full.get("replyAnswer") or {}).get("error", {}).get("message") if isinstance(full.get("replyAnswer"), dict) else None
                notes.append(f"- {name}, file system full: a reply answered {full.get('replyStatus')} ({answer}); /healthz "
                             f"{full.get('healthz')}; account status lastError: {(full.get('accountStatus') or {}).get('lastError')}")
    report = "\n".join(lines) + "\n\n" + "\n".join(recoveries) + "\n\n" + "\n".join(notes) + "\n"
    with open(os.path.join(out, "report.md"), "w") as handle:
        handle.write(report)
    print(report)


if __name__ == "__main__":
    main(sys.argv[1])
