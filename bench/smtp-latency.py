#!/usr/bin/env python3
"""smtp-latency.py HOST PORT COUNT SESSIONS SIZE RCPT MAILDIR

Latency from "250" to delivered, under load: SESSIONS concurrent SMTP sessions (asyncio, one
connection each, messages one after the other as smtp-source sends them) send COUNT messages of
about SIZE bytes, each with a token "Subject: lat-RUN-N". The time of each 250 reply to DATA is
taken when the reply is read; an inotify watch on MAILDIR/new (IN_MOVED_TO, IN_CREATE, as a
Maildir delivery renames or links the file there) takes the time each file appears and reads its
token. Prints one line:
  lat_p50_ms=… lat_p99_ms=… lat_max_ms=… lat_n=… e2e_msgs_per_s=… sent=… delivered=…
MAILDIR/new must exist before the run. Loopback only. Linux (inotify through libc).
"""
import asyncio, ctypes, os, re, struct, sys, threading, time

IN_CREATE, IN_MOVED_TO = 0x100, 0x80
TOKEN = re.compile(rb"Subject: lat-(\d+)-(\d+)")


def watch(newdir, run, seen, stop):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0 or libc.inotify_add_watch(fd, newdir.encode(), IN_CREATE | IN_MOVED_TO) < 0:
        raise OSError(ctypes.get_errno(), "inotify on " + newdir)
    import select
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    while not stop.is_set():
        if not poll.poll(100):
            continue
        now = time.monotonic()
        buf = os.read(fd, 65536)
        pos = 0
        while pos < len(buf):
            _, _, _, length = struct.unpack_from("iIII", buf, pos)
            name = buf[pos + 16:pos + 16 + length].rstrip(b"\0").decode()
            pos += 16 + length
            try:
                with open(os.path.join(newdir, name), "rb") as f:
                    m = TOKEN.search(f.read(8192))
            except OSError:
                continue   # moved on to cur/ already: not ours to time
            if m and int(m.group(1)) == run:
                seen.setdefault(int(m.group(2)), now)


async def session(host, port, todo, size, rcpt, run, acked):
    reader, writer = await asyncio.open_connection(host, port)

    async def reply():
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("closed")
            if line[3:4] != b"-":
                return int(line[:3])

    await reply()
    writer.write(b"EHLO latency.bench.test\r\n")
    await reply()
    filler = b"".join(b"latency test filler line %04d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n" % i
                      for i in range(max(1, size // 72)))
    while todo:
        n = todo.pop()
        msg = (b"From: bench@bench.test\r\nTo: %s\r\nSubject: lat-%d-%d\r\n\r\n" % (rcpt.encode(), run, n)) + filler
        writer.write(b"MAIL FROM:<bench@bench.test>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt.encode())
        for _ in range(2):
            await reply()
        if await reply() != 354:
            raise RuntimeError("DATA refused")
        writer.write(msg + b".\r\n")
        code = await reply()
        if code == 250:
            acked[n] = time.monotonic()
    writer.write(b"QUIT\r\n")
    await reply()
    writer.close()


def main():
    if len(sys.argv) != 8:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    host, port, count, sessions, size, rcpt, maildir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
    if not (host.startswith("127.") or host == "localhost"):
        sys.exit("refusing non-loopback target")
    newdir = os.path.join(maildir, "new")
    if not os.path.isdir(newdir):
        sys.exit(f"{newdir} must exist (owned by the recipient) before the run: it is watched")
    run = int(time.time())
    seen, acked, stop = {}, {}, threading.Event()
    t = threading.Thread(target=watch, args=(newdir, run, seen, stop), daemon=True)
    t.start()
    todo = list(range(count, 0, -1))
    t0 = time.monotonic()

    async def all_sessions():
        await asyncio.gather(*(session(host, port, todo, size, rcpt, run, acked) for _ in range(sessions)))

    asyncio.run(all_sessions())
    deadline = time.monotonic() + 120
    while len([n for n in acked if n in seen]) < len(acked) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    t.join()
    lat = sorted((seen[n] - a) * 1000 for n, a in acked.items() if n in seen)
    last = max(seen.values()) if seen else t0
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
    print(f"lat_p50_ms={pct(0.50):.1f} lat_p99_ms={pct(0.99):.1f} lat_max_ms={(lat[-1] if lat else float('nan')):.1f} "
          f"lat_n={len(lat)} e2e_msgs_per_s={len(seen) / (last - t0):.1f} sent={len(acked)} delivered={len(seen)}")


if __name__ == "__main__":
    main()
