#!/usr/bin/env python3
"""SMTP ingest load with or without STARTTLS: COUNT messages of SIZE bytes over SESSIONS parallel sessions,
each session sending its share over one connection (RSET between messages). Loopback only.

    tls-load.py HOST PORT COUNT SESSIONS SIZE RCPT plain|tls

Prints one line: mode=… sessions=… size=… count=… ok=… seconds=… msgs_per_s=…
"""
import smtplib, ssl, sys, threading, time

host, port, count, sessions, size, rcpt, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
if not host.startswith("127.") and host != "::1":
    sys.exit("loopback only")
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
body_line = "x" * 76 + "\r\n"
body = body_line * max(1, (size - 200) // len(body_line))
ok = 0
lock = threading.Lock()


def worker(n):
    global ok
    done = 0
    try:
        with smtplib.SMTP(host, port, timeout=120) as s:
            s.ehlo("bench.client")
            if mode == "tls":
                s.starttls(context=ctx)
                s.ehlo("bench.client")
            for i in range(n):
                msg = f"From: bench@client.example\r\nTo: {rcpt}\r\nSubject: tls bench {i}\r\n\r\n{body}"
                s.sendmail("bench@client.example", [rcpt], msg)
                done += 1
    finally:
        with lock:
            ok += done


shares = [count // sessions + (1 if i < count % sessions else 0) for i in range(sessions)]
threads = [threading.Thread(target=worker, args=(n,)) for n in shares if n > 0]
start = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start
print(f"mode={mode} sessions={sessions} size={size} count={count} ok={ok} seconds={elapsed:.2f} msgs_per_s={ok / elapsed:.1f}")
