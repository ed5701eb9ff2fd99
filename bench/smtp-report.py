#!/usr/bin/env python3
"""smtp-report.py RAW CSV: turns smtp-compare.sh's raw lines into a printed table and a CSV.

RAW lines: "SERVER SESSIONS SIZE COUNT key=value ..." (throughput), "SERVER latency_SESSIONS SIZE COUNT
lat_p50_ms=… lat_p99_ms=…" (smtp-latency.py), "SERVER idle - - key=value ..." and "SERVER cli_NAME - - ms=…".
CSV columns: metric,sessions,size,count,posthorn,postfix,ratio,note where ratio = posthorn / postfix (higher is
better for rates, lower for RSS, wall time and latency). A load measured several times (--repeat) gives its
median; the note lists every run, and the table prints the min-max spread.
"""
import csv, statistics, sys

def kv(fields):
    return dict(f.split("=", 1) for f in fields if "=" in f)

def main():
    raw, out = sys.argv[1], sys.argv[2]
    loads, other, runs, lat = {}, {}, {}, {}
    for line in open(raw):
        f = line.split()
        if len(f) < 4:
            continue
        server, a, size, count = f[:4]
        if a.isdigit():
            key = (int(a), int(size), int(count))
            loads.setdefault(key, {})[server] = kv(f[4:])
            runs.setdefault(key, {}).setdefault(server, []).append(kv(f[4:]))
        elif a.startswith("latency_"):
            lat.setdefault((int(a[8:]), int(size), int(count)), {}).setdefault(server, []).append(kv(f[4:]))
        else:
            other.setdefault(a, {})[server] = kv(f[4:])

    def num(d, k):
        try:
            return float(d[k])
        except (KeyError, TypeError, ValueError):
            return None

    def values(rs, k):
        return [v for v in (num(r, k) for r in rs) if v is not None]

    def median(rs, k):
        v = values(rs, k)
        return round(statistics.median(v), 1) if v else None

    def spread(rs, k):
        v = values(rs, k)
        return "/".join(f"{x:.0f}" for x in v)

    def ratio(p, q):
        return round(p / q, 2) if p is not None and q else None

    rows = []
    for (s, size, count), by in sorted(loads.items(), key=lambda x: (x[0][1], x[0][0])):
        ph, pf = by.get("posthorn", {}), by.get("postfix", {})
        rph, rpf = runs[(s, size, count)].get("posthorn", []), runs[(s, size, count)].get("postfix", [])
        note = f"delivered posthorn={ph.get('delivered', '?')} postfix={pf.get('delivered', '?')} of {count}"
        for m, k in (("ingest_msgs_s", "ingest_msgs_per_s"), ("e2e_msgs_s", "e2e_msgs_per_s")):
            a, b = median(rph, k), median(rpf, k)
            runs_note = f"; runs posthorn={spread(rph, k)} postfix={spread(rpf, k)}" if max(len(rph), len(rpf)) > 1 else ""
            # Turn by turn (the servers ran one after the other in each turn): the spread of the ratio itself.
            vp, vf = values(rph, k), values(rpf, k)
            if len(vp) > 1 and len(vp) == len(vf) and all(vf):
                runs_note += " per turn=" + "/".join(f"{a / b:.2f}" for a, b in zip(vp, vf))
            rows.append([m, s, size, count, a, b, ratio(a, b), note + runs_note])
    # BASELINE: another Posthorn build in the same turns, compared with Postfix the same way.
    for (s, size, count), by in sorted(runs.items(), key=lambda x: (x[0][1], x[0][0])):
        rb, rpf = by.get("baseline", []), by.get("postfix", [])
        if rb:
            a, b = median(rb, "e2e_msgs_per_s"), median(rpf, "e2e_msgs_per_s")
            rows.append(["baseline_e2e_msgs_s", s, size, count, a, b, ratio(a, b),
                         f"baseline build in the posthorn column; runs baseline={spread(rb, 'e2e_msgs_per_s')} postfix={spread(rpf, 'e2e_msgs_per_s')}"])
    for (s, size, count), by in sorted(lat.items()):
        if by.get("baseline"):
            for m, k in (("baseline_lat_p50_ms", "lat_p50_ms"), ("baseline_lat_p99_ms", "lat_p99_ms")):
                rows.append([m, s, size, count, median(by["baseline"], k), median(by.get("postfix", []), k), None,
                             f"250 -> Maildir/new; runs baseline={spread(by['baseline'], k)}"])
        rph, rpf = by.get("posthorn", []), by.get("postfix", [])
        for m, k in (("lat_p50_ms", "lat_p50_ms"), ("lat_p99_ms", "lat_p99_ms")):
            a, b = median(rph, k), median(rpf, k)
            rows.append([m, s, size, count, a, b, ratio(a, b),
                         f"250 -> Maildir/new; runs posthorn={spread(rph, k)} postfix={spread(rpf, k)}"])
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
    by = other.get("startup", {})
    if by:
        a, b = num(by.get("posthorn", {}), "ms"), num(by.get("postfix", {}), "ms")
        rows.append(["startup_ms", "", "", 1, a, b, ratio(a, b), "`postfix start` to the first 220 banner"])
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
        runs_note = e[7].split("; runs ")[1] if "; runs " in e[7] else ""
        print(f"{f'{s} x {size // 1024}K x {count}':<18}{fmt(i[4]):>10}{fmt(e[4]):>9}{fmt(i[5]):>10}{fmt(e[5]):>9}{fmt(e[6]):>10}"
              + (f"   e2e runs: {runs_note}" if runs_note else ""))
    for r in rows:
        if r[0] in ("lat_p50_ms", "lat_p99_ms"):
            print(f"{r[0]} ({r[1]} sessions x {r[2] // 1024}K): posthorn={fmt(r[4])} postfix={fmt(r[5])} "
                  f"ratio={fmt(r[6])}  [{r[7].split('; ')[1]}]")
    for r in rows:
        if r[0].startswith("baseline_"):
            print(f"{r[0]} ({r[1]} x {r[2] // 1024}K): baseline={fmt(r[4])} postfix={fmt(r[5])} ratio={fmt(r[6])}  [{r[7].split('; ')[-1]}]")
    for r in rows:
        if r[0] not in ("ingest_msgs_s", "e2e_msgs_s", "lat_p50_ms", "lat_p99_ms") and not r[0].startswith("baseline_"):
            label = r[0] + (f" ({r[1]} conns)" if r[0].endswith("idle_mb") else "")
            print(f"{label:<28} posthorn={fmt(r[4])} postfix={fmt(r[5])} ratio={fmt(r[6])}"
                  + (f"  [{r[7]}]" if r[0] == "rss_idle_mb" else ""))
    incomplete = [r for r in rows if r[0] == "e2e_msgs_s" and "?" not in r[7]
                  and any(x.split("=")[1] != str(r[3]) for x in r[7].split(" of ")[0].split()[1:])]
    for r in incomplete:
        print(f"WARNING: not every message was delivered at {r[1]} x {r[2]}: {r[7]}")

if __name__ == "__main__":
    main()
