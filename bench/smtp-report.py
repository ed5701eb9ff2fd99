#!/usr/bin/env python3
"""smtp-report.py RAW CSV: turns smtp-compare.sh's raw lines into a printed table and a CSV.

RAW lines: "SERVER SESSIONS SIZE COUNT key=value ..." (throughput), "SERVER idle - - key=value ..."
and "SERVER cli_NAME - - ms=…". CSV columns: metric,sessions,size,count,posthorn,postfix,ratio,note
where ratio = posthorn / postfix (higher is better for rates, lower for RSS and wall time).
"""
import csv, sys

def kv(fields):
    return dict(f.split("=", 1) for f in fields if "=" in f)

def main():
    raw, out = sys.argv[1], sys.argv[2]
    loads, other = {}, {}
    for line in open(raw):
        f = line.split()
        if len(f) < 4:
            continue
        server, a, size, count = f[:4]
        if a.isdigit():
            loads.setdefault((int(a), int(size), int(count)), {})[server] = kv(f[4:])
        else:
            other.setdefault(a, {})[server] = kv(f[4:])

    def num(d, k):
        try:
            return float(d[k])
        except (KeyError, TypeError, ValueError):
            return None

    def ratio(p, q):
        return round(p / q, 2) if p is not None and q else None

    rows = []
    for (s, size, count), by in sorted(loads.items(), key=lambda x: (x[0][1], x[0][0])):
        ph, pf = by.get("posthorn", {}), by.get("postfix", {})
        note = f"delivered posthorn={ph.get('delivered', '?')} postfix={pf.get('delivered', '?')} of {count}"
        for m, k in (("ingest_msgs_s", "ingest_msgs_per_s"), ("e2e_msgs_s", "e2e_msgs_per_s")):
            a, b = num(ph, k), num(pf, k)
            rows.append([m, s, size, count, a, b, ratio(a, b), note])
    idle = other.get("idle", {})
    if idle:
        ph, pf = idle.get("posthorn", {}), idle.get("postfix", {})
        n = ph.get("opened") or pf.get("opened")
        note = (f"banners posthorn={ph.get('banners', '?')} postfix={pf.get('banners', '?')}; "
                f"processes posthorn={ph.get('procs', '?')} postfix={pf.get('procs', '?')}")
        for m, k in (("rss_rest_mb", "rss_rest_kb"), ("rss_idle_mb", "rss_idle_kb"),
                     ("pss_rest_mb", "pss_rest_kb"), ("pss_idle_mb", "pss_idle_kb")):
            a, b = num(ph, k), num(pf, k)
            a = round(a / 1024, 1) if a is not None else None
            b = round(b / 1024, 1) if b is not None else None
            rows.append([m, n if m.endswith("idle_mb") else 0, "", "", a, b, ratio(a, b), note])
    for name in ("cli_postconf", "cli_mailq"):
        by = other.get(name, {})
        if by:
            a, b = num(by.get("posthorn", {}), "ms"), num(by.get("postfix", {}), "ms")
            rows.append([name + "_ms", "", "", 20, a, b, ratio(a, b), "mean wall time of one run"])

    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["metric", "sessions", "size", "count", "posthorn", "postfix", "ratio", "note"])
        w.writerows(rows)

    fmt = lambda v: "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
    print(f"{'load':<18}{'PH ingest':>10}{'PH e2e':>9}{'PF ingest':>10}{'PF e2e':>9}{'e2e PH/PF':>10}   (msgs/s)")
    by_load = {}
    for r in rows:
        if r[0] in ("ingest_msgs_s", "e2e_msgs_s"):
            by_load.setdefault((r[1], r[2], r[3]), {})[r[0]] = r
    for (s, size, count), d in by_load.items():
        i, e = d["ingest_msgs_s"], d["e2e_msgs_s"]
        print(f"{f'{s} x {size // 1024}K x {count}':<18}{fmt(i[4]):>10}{fmt(e[4]):>9}{fmt(i[5]):>10}{fmt(e[5]):>9}{fmt(e[6]):>10}")
    for r in rows:
        if r[0] not in ("ingest_msgs_s", "e2e_msgs_s"):
            label = r[0] + (f" ({r[1]} conns)" if r[0].endswith("idle_mb") else "")
            print(f"{label:<28} posthorn={fmt(r[4])} postfix={fmt(r[5])} ratio={fmt(r[6])}"
                  + (f"  [{r[7]}]" if r[0] == "rss_idle_mb" else ""))
    incomplete = [r for r in rows if r[0] == "e2e_msgs_s" and "?" not in r[7]
                  and any(x.split("=")[1] != str(r[3]) for x in r[7].split(" of ")[0].split()[1:])]
    for r in incomplete:
        print(f"WARNING: not every message was delivered at {r[1]} x {r[2]}: {r[7]}")

if __name__ == "__main__":
    main()
