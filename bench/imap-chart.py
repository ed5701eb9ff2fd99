#!/usr/bin/env python3
"""imap-chart.py CSV PNG: Dovecot/Posthorn time ratio per IMAP operation (above 1: Posthorn faster), one panel per
mailbox size, from the CSV imap-compare.sh writes."""
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

times = {}
for r in csv.DictReader(open(sys.argv[1])):
    if r["metric"].endswith("_s") and r["metric"] != "login_s":
        times[(int(r["n"]), r["phase"], r["metric"][:-2], r["server"])] = float(r["seconds"])
sizes = sorted({k[0] for k in times})
fig, axes = plt.subplots(1, len(sizes), figsize=(6.5 * len(sizes), 5.5), squeeze=False)
for ax, n in zip(axes[0], sizes):
    ops = sorted({(k[1], k[2]) for k in times if k[0] == n}, key=lambda o: (o[0] != "cold", o[1]))
    ops = [o for o in ops if times.get((n, *o, "posthorn")) and times.get((n, *o, "dovecot"))]
    ratios = [times[(n, *o, "dovecot")] / times[(n, *o, "posthorn")] for o in ops]
    ys = range(len(ops))
    ax.barh(list(ys), ratios, color=["tab:blue" if r >= 1 else "tab:red" for r in ratios])
    ax.axvline(1, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(list(ys), [f"{phase} {op.replace('_', ' ')}" for phase, op in ops])
    ax.invert_yaxis()
    for y, r in zip(ys, ratios):
        ax.text(r, y, f" {r:.2f}", va="center")
    ax.set_xlabel("Dovecot time / Posthorn time (log; right of 1: Posthorn faster)")
    ax.set_title(f"{n:,} messages")
fig.suptitle("IMAP: Posthorn vs Dovecot, same machine, same run")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
