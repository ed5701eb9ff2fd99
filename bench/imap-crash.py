#!/usr/bin/env python3
"""imap-crash.py POSTHORN CONFDIR PORT USER PASSWORD MAILDIR OPS CLIENTS KILLS [DEADLINE_S]

IMAP durability under SIGKILL, against a Posthorn instance already started from CONFDIR (imapd on
127.0.0.1:PORT, USER/PASSWORD in its passwd-file, INBOX = the Maildir MAILDIR).

CLIENTS threads (python imaplib, one connection each) run a numbered workload on INBOX until OPS
operations were acknowledged:
  APPEND  message N (every attempt gets a new N; N is "acknowledged" when the tagged OK arrives);
  STORE   UID STORE +FLAGS or -FLAGS (\\Seen or \\Flagged) on one of the client's own messages (the
          flag state is "acknowledged" when the OK arrives with the message's FETCH);
  EXPUNGE UID STORE +FLAGS (\\Deleted) then UID EXPUNGE (RFC 4315) on one of its own messages
          ("acknowledged expunged" when the UID EXPUNGE OK arrives).
An operation cut by a kill leaves its message in an "unknown" state for that flag (or expunge) until a
later acknowledged operation; only unknown states may go either way.
Meanwhile the controller SIGKILLs the daemon KILLS times, the i-th at a random point of the i-th of
KILLS+1 equal stretches of OPS, and restarts it with `POSTHORN postfix -c CONFDIR start`.

At the end it proves, over IMAP and over the files:
  - every acknowledged APPEND not acknowledged-expunged is present exactly once (zero lost);
  - no acknowledged-expunged message is present; unacknowledged APPENDs are present at most once;
  - every acknowledged flag state is what IMAP FLAGS and the Maildir file name say;
  - UIDs are unique; UIDVALIDITY is unchanged unless the index was rebuilt (reported);
  - no file in new/ or cur/ is partial (each ends with its end marker);
  - deleting the index while the daemon runs, deleting it after a SIGKILL while it is stopped, and
    overwriting it with garbage after a SIGKILL each rebuild it with the same messages and flags (and
    a new UIDVALIDITY).
Prints one RESULT line. Exit 0: nothing lost or corrupt; 1: loss or corruption; 2: the run failed.
"""
import imaplib, os, random, re, signal, socket, subprocess, sys, threading, time

INDEX = "posthorn-index.sqlite"
FLAGS = {"Seen": "\\Seen", "Flagged": "\\Flagged"}
LETTER = {"Seen": "S", "Flagged": "F", "Deleted": "T"}


def message(n, rng):
    # The last line proves the file is whole: a partial file lacks it. One in ten is large, so that a
    # kill can fall while the literal streams.
    lines = rng.choice([20, 200, 2000]) if rng.random() < 0.9 else 6000
    filler = "".join(f"line {i:05d} of imap-crash message {n}\r\n" for i in range(lines))
    return (f"From: crash@bench.test\r\nTo: rcpt@bench.test\r\nSubject: imap-crash {n}\r\n"
            f"Message-ID: <imap-crash-{n}@bench.test>\r\n\r\n{filler}end-of-imap-crash {n}\r\n").encode()


class Daemon:
    def __init__(self, ph, conf, port):
        self.ph, self.conf, self.port = ph, conf, port
        self.pid = None

    def status_pid(self):
        out = subprocess.run([self.ph, "postfix", "-c", self.conf, "status"], capture_output=True, text=True).stdout
        out += subprocess.run([self.ph, "postfix", "-c", self.conf, "status"], capture_output=True, text=True).stderr
        m = re.search(r"PID: *(\d+)", out)
        return int(m.group(1)) if m else None

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    def start(self):
        for _ in range(5):
            subprocess.run([self.ph, "postfix", "-c", self.conf, "start"], capture_output=True)
            end = time.monotonic() + 20
            while time.monotonic() < end and not self.listening():
                time.sleep(0.1)
            self.pid = self.status_pid()
            if self.pid and self.listening():
                return
            time.sleep(1)
        raise RuntimeError("the daemon did not come back")

    def kill(self):
        pid = self.pid or self.status_pid()
        os.kill(pid, signal.SIGKILL)
        while os.path.exists(f"/proc/{pid}"):
            time.sleep(0.01)
        self.pid = None
        return pid


class State:
    """What the server acknowledged. Per token N: uid, flags {name: True/False/None}, fate."""
    def __init__(self):
        self.lock = threading.Lock()
        self.acked_ops = 0
        self.appended = {}        # N -> {"uid": int, "flags": {...}, "fate": "live"|"expunged"|"maybe-expunged"}
        self.unacked_appends = set()
        self.validities = []      # every distinct UIDVALIDITY a client saw, in order
        self.failed_attempts = 0
        self.next_n = 0

    def new_n(self):
        with self.lock:
            self.next_n += 1
            return self.next_n

    def saw_validity(self, v):
        with self.lock:
            if not self.validities or self.validities[-1] != v:
                self.validities.append(v)


def connect(port, user, password, deadline):
    while time.monotonic() < deadline:
        try:
            c = imaplib.IMAP4("127.0.0.1", port, timeout=30)
            c.login(user, password)
            typ, data = c.select("INBOX")
            if typ != "OK":
                raise imaplib.IMAP4.error(f"SELECT: {data}")
            return c
        except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort, EOFError):
            time.sleep(0.1)
    raise TimeoutError("could not connect before the deadline")


def uidvalidity(c):
    typ, data = c.response("UIDVALIDITY")
    return int(data[0]) if data and data[0] else None


def fetch_all(c):
    """UID FETCH 1:* → {uid: (token or None, set of flag names)}."""
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"UID FETCH: {data}")
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item[0].decode(), item[1].decode(errors="replace")
        uid = int(re.search(r"UID (\d+)", head).group(1))
        flags = set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).replace("\\", "").split())
        m = re.search(r"imap-crash (\d+)", body)
        if uid in out:
            out[uid] = ("DUPLICATE-UID", flags)
        else:
            out[uid] = (int(m.group(1)) if m else None, flags)
    return out


def worker(wid, args, st, stop, deadline):
    rng = random.Random(wid * 7919 + int(time.time()))
    mine = []      # tokens this client appended and may still operate on
    c, known_validity = None, None
    while not stop.is_set() and time.monotonic() < deadline:
        op = None
        try:
            if c is None:
                c = connect(args["port"], args["user"], args["password"], deadline)
                v = uidvalidity(c)
                st.saw_validity(v)
                if known_validity is not None and v != known_validity:
                    # The index was rebuilt: map our tokens to their new UIDs.
                    by_token = {t: u for u, (t, _) in fetch_all(c).items()}
                    with st.lock:
                        for n in mine:
                            st.appended[n]["uid"] = by_token.get(n)
                known_validity = v
            r = rng.random()
            live = [n for n in mine if st.appended[n]["fate"] == "live" and st.appended[n]["uid"]]
            if r < 0.5 or len(live) < 3:
                op = ("append", st.new_n())
                n = op[1]
                with st.lock:
                    st.unacked_appends.add(n)
                typ, data = c.append("INBOX", None, None, message(n, rng))
                if typ != "OK":
                    raise imaplib.IMAP4.error(f"APPEND: {data}")
                m = re.search(rb"APPENDUID (\d+) (\d+)", data[0] or b"")
                with st.lock:
                    st.unacked_appends.discard(n)
                    st.appended[n] = {"uid": int(m.group(2)) if m else None, "flags": {"Seen": False, "Flagged": False},
                                      "fate": "live", "owner": wid}
                    st.acked_ops += 1
                mine.append(n)
            elif r < 0.85:
                n = rng.choice(live)
                name = rng.choice(list(FLAGS))
                sign = rng.choice("+-")
                op = ("store", n, name)
                with st.lock:
                    st.appended[n]["flags"][name] = None
                typ, data = c.uid("STORE", str(st.appended[n]["uid"]), sign + "FLAGS", f"({FLAGS[name]})")
                if typ != "OK":
                    raise imaplib.IMAP4.error(f"STORE: {data}")
                want = rb"UID %d\b" % st.appended[n]["uid"]
                if not any(re.search(want, d) for d in data if isinstance(d, bytes)):
                    # OK without the message's FETCH: the UID was not there. Leave the state unknown;
                    # the final check will say whether the message is gone.
                    continue
                with st.lock:
                    st.appended[n]["flags"][name] = sign == "+"
                    st.acked_ops += 1
            else:
                n = rng.choice(live)
                uid = str(st.appended[n]["uid"])
                op = ("expunge", n)
                with st.lock:
                    st.appended[n]["fate"] = "maybe-expunged"
                typ, data = c.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
                if typ != "OK":
                    raise imaplib.IMAP4.error(f"STORE Deleted: {data}")
                typ, data = c.uid("EXPUNGE", uid)
                if typ != "OK":
                    raise imaplib.IMAP4.error(f"UID EXPUNGE: {data}")
                with st.lock:
                    st.appended[n]["fate"] = "expunged"
                    st.acked_ops += 1
            with st.lock:
                if st.acked_ops >= args["ops"]:
                    stop.set()
        except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort, EOFError, AttributeError):
            # The daemon died under us (or refused while it restarts): the operation in flight stays
            # unacknowledged. imaplib raises AttributeError on a socket it already closed.
            with st.lock:
                st.failed_attempts += 1
            try:
                if c is not None:
                    c.shutdown()
            except Exception:
                pass
            c = None
            time.sleep(0.1)
    if c is not None:
        try:
            c.logout()
        except Exception:
            pass


def scan_maildir(maildir):
    """Files in new/ and cur/ → ({token: [(path, flag letters)]}, [partial files], [foreign files])."""
    files, partial, foreign = {}, [], []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        for name in os.listdir(d):
            if name.startswith("."):
                continue
            p = os.path.join(d, name)
            data = open(p, "rb").read()
            m = re.search(rb"Subject: imap-crash (\d+)", data)
            if not m:
                foreign.append(p)
                continue
            n = int(m.group(1))
            if not data.endswith(f"end-of-imap-crash {n}\r\n".encode()) and not data.endswith(f"end-of-imap-crash {n}\n".encode()):
                partial.append(p)
            letters = name.split(":2,", 1)[1] if ":2," in name else ""
            files.setdefault(n, []).append((p, letters))
    return files, partial, foreign


def verify(st, view, files, label):
    """Compares one IMAP view {uid: (token, flags)} and the files with what was acknowledged."""
    problems = []
    by_token = {}
    for uid, (t, flags) in view.items():
        if t == "DUPLICATE-UID":
            problems.append(f"{label}: UID {uid} listed twice")
            continue
        by_token.setdefault(t, []).append((uid, flags))
    lost = dup = resurrected = flagbad = 0
    for n, s in st.appended.items():
        got = by_token.get(n, [])
        f = files.get(n, [])
        if len(got) > 1 or len(f) > 1:
            dup += 1
            problems.append(f"{label}: message {n} present {len(got)} times over IMAP, {len(f)} files")
        if s["fate"] == "live" and (not got or not f):
            lost += 1
            problems.append(f"{label}: acknowledged message {n} lost (imap {len(got)}, files {len(f)})")
        if s["fate"] == "expunged" and (got or f):
            resurrected += 1
            problems.append(f"{label}: acknowledged-expunged message {n} present (imap {len(got)}, files {len(f)})")
        if s["fate"] == "live" and got and f:
            for name, want in s["flags"].items():
                if want is None:
                    continue
                if (name in got[0][1]) != want or (LETTER[name] in f[0][1]) != want:
                    flagbad += 1
                    problems.append(f"{label}: message {n} flag {name} acknowledged {want}, imap {sorted(got[0][1])}, file :2,{f[0][1]}")
    for n in st.unacked_appends:
        if len(by_token.get(n, [])) > 1 or len(files.get(n, [])) > 1:
            dup += 1
            problems.append(f"{label}: unacknowledged message {n} present more than once")
    unknown = [t for t in by_token if t not in st.appended and t not in st.unacked_appends]
    if unknown:
        problems.append(f"{label}: messages nobody appended: {unknown[:5]}")
    imap_tokens = {t for t in by_token}
    file_tokens = set(files)
    if imap_tokens != file_tokens:
        problems.append(f"{label}: index and files disagree: only over IMAP {sorted(imap_tokens - file_tokens)[:5]}, "
                        f"only in files {sorted(file_tokens - imap_tokens)[:5]}")
    return problems, lost, dup, resurrected, flagbad


def snapshot(args, deadline):
    c = connect(args["port"], args["user"], args["password"], deadline)
    v = uidvalidity(c)
    view = fetch_all(c)
    c.logout()
    return v, view


def main():
    if len(sys.argv) < 10:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    ph, conf, port, user, password, maildir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
    ops, clients, kills = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
    budget = float(sys.argv[10]) if len(sys.argv) > 10 else 100
    args = {"port": port, "user": user, "password": password, "ops": ops}
    daemon = Daemon(ph, conf, port)
    daemon.pid = daemon.status_pid()
    st, stop = State(), threading.Event()
    t0 = time.monotonic()
    deadline = t0 + budget
    threads = [threading.Thread(target=worker, args=(i, args, st, stop, deadline), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    done_kills, rng = 0, random.Random()
    stretch = max(1, ops // (kills + 1))
    try:
        for i in range(1, kills + 1):
            at = i * stretch + rng.randrange(stretch) - stretch // 2
            while st.acked_ops < at and not stop.is_set() and time.monotonic() < deadline:
                time.sleep(0.005)
            if stop.is_set() or time.monotonic() >= deadline:
                break
            pid = daemon.kill()
            done_kills += 1
            print(f"kill {done_kills}: SIGKILL pid {pid} after {st.acked_ops} acknowledged operations", file=sys.stderr)
            time.sleep(rng.random() * 0.5)
            daemon.start()
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic()))
        stop.set()
        run_s = time.monotonic() - t0
        final_deadline = time.monotonic() + 60

        problems = []
        v1, view = snapshot(args, final_deadline)
        st.saw_validity(v1)
        files, partial, foreign = scan_maildir(maildir)
        problems += [f"partial file {p}" for p in partial]
        p, lost, dup, resurrected, flagbad = verify(st, view, files, "after the run")
        problems += p

        # Rebuild 1: delete the index while the daemon runs, then reconnect.
        os.remove(os.path.join(maildir, INDEX))
        v2, view2 = snapshot(args, final_deadline)
        problems += verify(st, view2, scan_maildir(maildir)[0], "index deleted while running")[0]
        if v2 == v1:
            problems.append(f"index deleted while running: UIDVALIDITY {v2} unchanged although UIDs were reassigned")
        # Rebuild 2: SIGKILL, delete only the main index file (the WAL may be left over), restart.
        daemon.kill()
        os.remove(os.path.join(maildir, INDEX))
        daemon.start()
        v3, view3 = snapshot(args, final_deadline)
        problems += verify(st, view3, scan_maildir(maildir)[0], "index deleted after SIGKILL")[0]
        if v3 == v2:
            problems.append(f"index deleted after SIGKILL: UIDVALIDITY {v3} unchanged although UIDs were reassigned")
        # Rebuild 3: SIGKILL, overwrite the index with garbage (a damaged file, not a missing one) and
        # drop its WAL (which would otherwise still hold every page of this young index), restart.
        daemon.kill()
        with open(os.path.join(maildir, INDEX), "wb") as f:
            f.write(bytes((i * 31 + 7) % 256 for i in range(8192)))
        for suffix in ("-wal", "-shm"):
            if os.path.exists(os.path.join(maildir, INDEX + suffix)):
                os.remove(os.path.join(maildir, INDEX + suffix))
        daemon.start()
        v4, view4 = snapshot(args, final_deadline)
        problems += verify(st, view4, scan_maildir(maildir)[0], "index overwritten after SIGKILL")[0]
        if v4 == v3:
            problems.append(f"index overwritten after SIGKILL: UIDVALIDITY {v4} unchanged although UIDs were reassigned")
    except (TimeoutError, RuntimeError, OSError, imaplib.IMAP4.error) as e:
        print(f"RESULT: RUN FAILED ({e})")
        sys.exit(2)

    acked = sum(1 for s in st.appended.values())
    expunged = sum(1 for s in st.appended.values() if s["fate"] == "expunged")
    flags_known = sum(1 for s in st.appended.values() if s["fate"] == "live" for v in s["flags"].values() if v is not None)
    rebuilt = len(st.validities) - 1
    for line in problems[:20]:
        print(line, file=sys.stderr)
    summary = (f"ops={st.acked_ops} clients={clients} kills={done_kills} seconds={run_s:.1f} appends_acked={acked} "
               f"expunges_acked={expunged} flags_checked={flags_known} in_flight_appends={len(st.unacked_appends)} "
               f"failed_attempts={st.failed_attempts} messages={len(view)} lost={lost} duplicates={dup} "
               f"resurrected={resurrected} flag_mismatches={flagbad} partial={len(partial)} foreign_files={len(foreign)} "
               f"index_rebuilt_during_run={rebuilt} uidvalidity={v1}->{v2}->{v3}->{v4}")
    if problems:
        print(f"RESULT: FAIL {summary} problems={len(problems)}")
        sys.exit(1)
    if st.acked_ops < ops or done_kills < kills:
        print(f"RESULT: INCOMPLETE {summary}")
        sys.exit(2)
    print(f"RESULT: PASS {summary}")


if __name__ == "__main__":
    main()
