#!/usr/bin/env python3
"""crash-send.py HOST PORT COUNT SESSIONS RCPT ACKFILE [DEADLINE_S]

Sends messages numbered 1..COUNT ("Subject: crash-test N") over SESSIONS concurrent SMTP sessions
and appends N to ACKFILE (one line, flushed) as soon as the server answered 250 to its DATA.
A message whose transaction fails for any reason (connection refused or cut while the daemon
is down) is not acknowledged and goes back to the queue to be sent again: only those may arrive
twice. Stops when every N is acknowledged or after DEADLINE_S seconds (default 900); exit 0 only
when every N was acknowledged. Loopback only.
"""
import queue, smtplib, sys, threading, time

def body(n):
    # The last line proves the file is whole: a partial Maildir file lacks it.
    filler = "".join(f"line {i:04d} of crash-test message {n}\r\n" for i in range(40))
    return (f"From: crash@bench.test\r\nTo: rcpt\r\nSubject: crash-test {n}\r\n"
            f"Message-ID: <crash-test-{n}@bench.test>\r\n\r\n{filler}end-of-crash-test {n}\r\n")

def main():
    if len(sys.argv) < 7:
        print(__doc__, file=sys.stderr); sys.exit(2)
    host, port, count, sessions, rcpt, ackfile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
    deadline = time.monotonic() + (float(sys.argv[7]) if len(sys.argv) > 7 else 900)
    if not (host.startswith("127.") or host == "localhost"):
        sys.exit("refusing non-loopback target")
    todo = queue.Queue()
    for n in range(1, count + 1):
        todo.put(n)
    acked, lock = set(), threading.Lock()
    ack = open(ackfile, "a", buffering=1)
    stats = {"retries": 0}

    def worker():
        conn = None
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= count:
                    break
            try:
                n = todo.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                if conn is None:
                    conn = smtplib.SMTP(host, port, timeout=30)
                    conn.ehlo("crash-test.bench.test")
                conn.sendmail("crash@bench.test", [rcpt], body(n).encode())
                with lock:
                    acked.add(n)
                    ack.write(f"{n}\n")
            except Exception:
                # smtplib raises for any non-2xx reply and for a dead connection alike.
                with lock:
                    stats["retries"] += 1
                todo.put(n)
                try:
                    if conn is not None:
                        conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(0.2)
        if conn is not None:
            try:
                conn.quit()
            except Exception:
                pass

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ack.close()
    print(f"sender: acknowledged={len(acked)} of {count} failed_attempts={stats['retries']}")
    sys.exit(0 if len(acked) == count else 1)

if __name__ == "__main__":
    main()
