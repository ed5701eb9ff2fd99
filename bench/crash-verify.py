#!/usr/bin/env python3
"""crash-verify.py MAILDIR ACKFILE COUNT RUN_START_EPOCH

Proves what the crash test promises and prints one summary:
  - every N in ACKFILE (got a 250) is in MAILDIR/new or cur: lost = acknowledged but absent;
  - every file in new/ and cur/ is whole: it has "Subject: crash-test N" and ends with
    "end-of-crash-test N" (a partial file in new/ or cur/ is corruption);
  - duplicates: copies beyond the first of each N (only messages in flight at a kill may repeat);
  - tmp/: files left there by deliveries cut by a kill (Maildir readers never look in tmp/).
Exit status 1 on any loss or corrupt file.
"""
import os, re, sys

def main():
    maildir, ackfile, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    acked = {int(l) for l in open(ackfile) if l.strip().isdigit()}
    seen, corrupt = {}, []
    subject = re.compile(rb"^Subject: crash-test (\d+)\r?$", re.M)
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        for name in (os.listdir(d) if os.path.isdir(d) else []):
            data = open(os.path.join(d, name), "rb").read()
            head = data.split(b"\n\n", 1)[0] if b"\r\n\r\n" not in data else data.split(b"\r\n\r\n", 1)[0]
            m = subject.search(head)
            if not m or not data.rstrip().endswith(b"end-of-crash-test " + m.group(1)):
                corrupt.append(f"{sub}/{name}")
                continue
            n = int(m.group(1))
            seen[n] = seen.get(n, 0) + 1
    tmpdir = os.path.join(maildir, "tmp")
    tmp = [f for f in (os.listdir(tmpdir) if os.path.isdir(tmpdir) else [])]
    tmp_old = [f for f in tmp if os.path.getmtime(os.path.join(tmpdir, f)) < start]
    lost = sorted(acked - seen.keys())
    dups = sum(c - 1 for c in seen.values())
    unacked_delivered = len(seen.keys() - acked)
    print(f"verify: acknowledged={len(acked)} delivered_distinct={len(seen)} lost={len(lost)} "
          f"duplicates={dups} delivered_without_250={unacked_delivered} corrupt={len(corrupt)} "
          f"tmp_leftovers={len(tmp)} tmp_older_than_run={len(tmp_old)}")
    if lost:
        print("LOST: " + " ".join(map(str, lost[:50])) + (" …" if len(lost) > 50 else ""))
    if corrupt:
        print("CORRUPT: " + " ".join(corrupt[:20]))
    sys.exit(1 if lost or corrupt else 0)

if __name__ == "__main__":
    main()
