#!/usr/bin/env python3
"""smtp-chart.py CSV PNG: bar chart of end-to-end and ingest rates, Posthorn beside Postfix, per load."""
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = list(csv.DictReader(open(sys.argv[1])))
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for ax, metric, title in ((axes[0], "e2e_msgs_s", "end to end (250 -> in Maildir)"),
                          (axes[1], "ingest_msgs_s", "ingest (until last 250)")):
    sel = [r for r in rows if r["metric"] == metric]
    labels = [f"{r['sessions']} x {int(r['size']) // 1024}K" for r in sel]
    val = lambda r, k: float(r[k]) if r[k] else 0.0
    xs = range(len(sel))
    ax.bar([x - 0.2 for x in xs], [val(r, "posthorn") for r in sel], 0.4, label="Posthorn")
    ax.bar([x + 0.2 for x in xs], [val(r, "postfix") for r in sel], 0.4, label="Postfix")
    for x, r in zip(xs, sel):   # Posthorn/Postfix above each pair
        if val(r, "postfix") > 0:
            top = max(val(r, "posthorn"), val(r, "postfix"))
            ax.annotate(f"{val(r, 'posthorn') / val(r, 'postfix'):.1f}x", (x, top), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), labels, rotation=30, ha="right")
    ax.set_xlabel("sessions x message size")
    ax.set_ylabel("messages / s")
    ax.set_title(title)
    ax.legend()
fig.suptitle("SMTP: Posthorn vs Postfix, same machine, same run")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
