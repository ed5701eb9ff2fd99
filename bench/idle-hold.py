#!/usr/bin/env python3
"""Hold N idle connections on loopback and measure a daemon's memory.

  idle-hold.py HOST PORT N HOLD_SECONDS ROOT_PID [GREETING]

GREETING is what a server's first line starts with: "220" (SMTP, the default) or "* OK" (IMAP,
bench/imap-idle.sh). Measures the resident set (VmRSS) of ROOT_PID plus all its descendants at rest, opens N
connections, reads each banner (up to 20 s plus 1 s per 500 connections for all), holds them HOLD_SECONDS, samples RSS
during the hold, and prints one line:
  rss_rest_kb=… rss_idle_kb=… pss_rest_kb=… pss_idle_kb=… opened=… banners=… procs=…
rss_idle_kb is the largest sample during the hold (pss_idle_kb is taken with it). A server that runs a process per session
(Postfix) answers only as many banners as its process limit allows; the rest wait unaccepted.
"""
import os, resource, selectors, socket, sys, time

def procs_under(root):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError):
            pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out

def field_kb(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1])
    except OSError:
        pass
    return None

def rss_kb(root):
    """(sum of VmRSS, sum of Pss, process count) over ROOT_PID and its descendants. Summed RSS counts
    shared pages once per process; PSS divides them among the sharers, so it is the fairer sum."""
    rss, pss, n = 0, 0, 0
    for p in procs_under(root):
        r = field_kb(f"/proc/{p}/status", "VmRSS:")
        if r is None:
            continue
        rss += r; n += 1
        pss += field_kb(f"/proc/{p}/smaps_rollup", "Pss:") or 0
    return rss, pss, n

def main():
    if len(sys.argv) not in (6, 7):
        print(__doc__, file=sys.stderr); sys.exit(2)
    host, port, n, hold, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    greeting = (sys.argv[6] if len(sys.argv) == 7 else "220").encode("ascii")
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit("refusing non-loopback target")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 256)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    rest, rest_pss, _ = rss_kb(root)
    sel = selectors.DefaultSelector()
    socks, banners = [], 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect_ex((host, port))
        except OSError:
            s.close(); break
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + 20 + n / 500
    pending = len(socks)
    while pending and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.5):
            try:
                data = key.fileobj.recv(512)
            except OSError:
                data = b""
            if data.startswith(greeting):
                banners += 1
            sel.unregister(key.fileobj); pending -= 1
    peak, peak_pss, procs = 0, 0, 0
    end = time.monotonic() + hold
    while time.monotonic() < end:
        r, q, c = rss_kb(root)
        if r > peak:
            peak, peak_pss, procs = r, q, c
        time.sleep(1)
    for s in socks:
        s.close()
    print(f"rss_rest_kb={rest} rss_idle_kb={peak} pss_rest_kb={rest_pss} pss_idle_kb={peak_pss} "
          f"opened={len(socks)} banners={banners} procs={procs}")

if __name__ == "__main__":
    main()
