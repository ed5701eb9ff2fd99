#!/usr/bin/env python3
"""Hostile clients on loopback, and one normal client whose latency is measured meanwhile.

  hostile-load.py HOST PORT RCPT MAILDIR [--slow N] [--silent N] [--auth-flood N] [--sources N]
                  [--duration S] [--messages N]

For DURATION seconds (default 60) it keeps open:
  --slow N        connections (default 2000) that send "EHLO slow\\r\\n" and then NOOPs one byte a second;
  --silent N      connections (default 500) that never speak and never read;
  --auth-flood N  loops (default 20) that connect, EHLO, and send AUTH PLAIN with a wrong password, over and
                  over (any reply counts: 535, 503 where AUTH is off, 421 when the server limits them);
the hostile connections come from --sources N loopback addresses (default 100: 127.0.1.1 …), so that per-client
limits apply as they would to a botnet rather than to one host. Meanwhile a normal client on 127.0.0.1 sends
--messages N messages (default 200), one SMTP session each, to RCPT, and a watcher finds each one in MAILDIR
(new/ or cur/) by its token. It prints one line:
  sent=… delivered=… smtp_p50_ms=… smtp_p99_ms=… deliver_p50_ms=… deliver_p99_ms=… slow_open=… silent_open=…
  auth_attempts=… normal_failures=…
smtp_* is connect → 250 after the dot for the normal client; deliver_* is that 250 → the file in the Maildir.
Loopback only; counts and duration are bounded.
"""
import asyncio, base64, os, re, resource, sys, time, uuid

PROBE = re.compile(rb"latency probe ([0-9a-f]{32})")

def arg(name, default):
    a = sys.argv
    return int(a[a.index(name) + 1]) if name in a else default

def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]

async def open_from(host, port, source):
    return await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=(source, 0)), 20)

async def slow(host, port, source, stop, stats):
    try:
        r, w = await open_from(host, port, source)
    except (OSError, asyncio.TimeoutError):
        return
    stats["slow_open"] += 1
    try:
        line = b"EHLO slow\r\n"
        i = 0
        while not stop.is_set():
            w.write(line[i % len(line):i % len(line) + 1]); await w.drain()
            i += 1
            if i == len(line):
                line, i = b"NOOP\r\n", 0
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
    except (OSError, ConnectionError):
        pass
    finally:
        stats["slow_open"] -= 1
        w.close()

async def silent(host, port, source, stop, stats, holders):
    try:
        r, w = await open_from(host, port, source)
    except (OSError, asyncio.TimeoutError):
        return
    stats["silent_open"] += 1
    holders.append(w)
    await stop.wait()
    w.close()

async def auth_flood(host, port, source, stop, stats):
    bad = base64.b64encode(b"\0nobody\0wrong-password").decode()
    while not stop.is_set():
        try:
            r, w = await open_from(host, port, source)
            await asyncio.wait_for(r.readline(), 20)
            w.write(b"EHLO flood\r\n"); await w.drain()
            while True:
                l = await asyncio.wait_for(r.readline(), 20)
                if not l or l[3:4] != b"-":
                    break
            for _ in range(5):
                if stop.is_set():
                    break
                w.write(f"AUTH PLAIN {bad}\r\n".encode()); await w.drain()
                l = await asyncio.wait_for(r.readline(), 30)
                stats["auth_attempts"] += 1
                if not l or l.startswith(b"421"):
                    break
            w.close()
        except (OSError, ConnectionError, asyncio.TimeoutError):
            await asyncio.sleep(0.1)

async def reply(r):
    while True:
        l = await asyncio.wait_for(r.readline(), 60)
        if not l:
            raise ConnectionError("closed")
        if l[3:4] != b"-":
            return l

async def normal(host, port, rcpt, count, stats, sent):
    for i in range(count):
        token = uuid.uuid4().hex
        t0 = time.monotonic()
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=("127.0.0.1", 0)), 60)
            await reply(r)
            for cmd in (b"EHLO normal.example", b"MAIL FROM:<normal@bench.test>", f"RCPT TO:<{rcpt}>".encode(), b"DATA"):
                w.write(cmd + b"\r\n"); await w.drain()
                l = await reply(r)
                if l[:1] not in (b"2", b"3"):
                    raise ConnectionError(l.decode(errors="replace").strip())
            w.write(f"Subject: normal {token}\r\nMessage-ID: <{token}@bench.test>\r\n\r\nlatency probe {token}\r\n.\r\n".encode()); await w.drain()
            l = await reply(r)
            if l[:1] != b"2":
                raise ConnectionError(l.decode(errors="replace").strip())
            t1 = time.monotonic()
            stats["smtp_ms"].append((t1 - t0) * 1000)
            sent[token] = t1
            w.write(b"QUIT\r\n"); await w.drain(); w.close()
        except (OSError, ConnectionError, asyncio.TimeoutError) as e:
            stats["normal_failures"] += 1
            print(f"normal client: {e}", file=sys.stderr)
        await asyncio.sleep(0.05)

async def watch(maildir, found, stop):
    """Notes the monotonic time each probe token first shows up in the Maildir, whether or not its 250 has been
    read yet (a fast server delivers before the client has processed the reply)."""
    seen = set()
    while True:
        for sub in ("new", "cur"):
            d = os.path.join(maildir, sub)
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for n in names:
                if n in seen:
                    continue
                seen.add(n)
                try:
                    with open(os.path.join(d, n), "rb") as f:
                        body = f.read()
                except OSError:
                    continue
                m = PROBE.search(body)
                if m:
                    found.setdefault(m.group(1).decode(), time.monotonic())
        if stop.is_set():
            return
        await asyncio.sleep(0.01)

async def main():
    a = sys.argv
    if len(a) < 5:
        print(__doc__, file=sys.stderr); sys.exit(2)
    host, port, rcpt, maildir = a[1], int(a[2]), a[3], a[4]
    assert host.startswith("127.") or host == "::1", "loopback only"
    n_slow, n_silent, n_auth = arg("--slow", 2000), arg("--silent", 500), arg("--auth-flood", 20)
    sources, duration, messages = arg("--sources", 100), arg("--duration", 60), arg("--messages", 200)
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    src = [f"127.0.1.{1 + i % 250}" if i < 250 else f"127.0.2.{1 + i % 250}" for i in range(sources)]
    stats = {"slow_open": 0, "silent_open": 0, "auth_attempts": 0, "normal_failures": 0, "smtp_ms": [], "deliver_ms": []}
    stop, holders, sent = asyncio.Event(), [], {}
    hostile = [asyncio.create_task(slow(host, port, src[i % sources], stop, stats)) for i in range(n_slow)]
    hostile += [asyncio.create_task(silent(host, port, src[i % sources], stop, stats, holders)) for i in range(n_silent)]
    hostile += [asyncio.create_task(auth_flood(host, port, src[i % sources], stop, stats)) for i in range(n_auth)]
    await asyncio.sleep(5)   # let the hostile load build up first
    peak = {"slow_open": stats["slow_open"], "silent_open": stats["silent_open"]}
    watcher_stop, found = asyncio.Event(), {}
    watcher = asyncio.create_task(watch(maildir, found, watcher_stop))
    try:
        await asyncio.wait_for(normal(host, port, rcpt, messages, stats, sent), duration)
    except asyncio.TimeoutError:
        print("normal client: duration reached before all messages were sent", file=sys.stderr)
    n_sent = len(stats["smtp_ms"])
    deadline = time.monotonic() + 30
    while any(t not in found for t in sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    watcher_stop.set()
    await watcher
    stats["deliver_ms"] = [max(0.0, (found[t] - t250) * 1000) for t, t250 in sent.items() if t in found]
    stop.set()
    await asyncio.gather(*hostile, return_exceptions=True)
    print(f"sent={n_sent} delivered={len(stats['deliver_ms'])} "
          f"smtp_p50_ms={pct(stats['smtp_ms'], 50):.1f} smtp_p99_ms={pct(stats['smtp_ms'], 99):.1f} "
          f"deliver_p50_ms={pct(stats['deliver_ms'], 50):.1f} deliver_p99_ms={pct(stats['deliver_ms'], 99):.1f} "
          f"slow_open={peak['slow_open']} silent_open={peak['silent_open']} auth_attempts={stats['auth_attempts']} "
          f"normal_failures={stats['normal_failures']}")

asyncio.run(main())
