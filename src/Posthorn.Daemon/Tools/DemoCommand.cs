using Posthorn.Daemon.Master;

namespace Posthorn.Daemon.Tools;

/// <summary><c>posthorn demo [DIR] [-p SMTP_PORT] [-s SUBMISSION_PORT]</c>: creates (once) a demo configuration
/// directory that runs without root on loopback high ports (2525 and 2587 by default), prints how to send and read
/// mail, and runs the daemon in the foreground.</summary>
/// <remarks>The demo has a self-signed certificate made as <c>posthorn tls new-server-cert</c> makes one (no
/// openssl needed): STARTTLS is offered on both ports, and the submission port is set up as Postfix's stock
/// master.cf submission row (TLS required, AUTH, only authenticated clients), with one passwd-file user: the
/// invoking user, password "demo". The ports are written into master.cf when the directory is created.</remarks>
public static class DemoCommand
{
    /// <summary>The demo user's password on the submission port; the demo listens on loopback only.</summary>
    public const string Password = "demo";

    public static async Task<int> RunAsync(string[] args, ToolContext ctx)
    {
        string? dirArg = null;
        int smtpPort = 2525, submissionPort = 2587;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-p" when i + 1 < args.Length && int.TryParse(args[i + 1], out smtpPort): i++; break;
                case "-s" when i + 1 < args.Length && int.TryParse(args[i + 1], out submissionPort): i++; break;
                default:
                    if (dirArg is not null || args[i].StartsWith('-'))
                    {
                        ctx.Err.WriteLine("usage: posthorn demo [DIR] [-p SMTP_PORT] [-s SUBMISSION_PORT]");
                        return 64;
                    }
                    dirArg = args[i];
                    break;
            }
        }
        string dir = Path.GetFullPath(dirArg ?? ".demo");
        string user = ctx.GetEnv("USER") ?? Environment.UserName;
        if (!File.Exists(Path.Combine(dir, "main.cf")))
        {
            Directory.CreateDirectory(dir);
            // Like /var/mail on a fresh system, the spool exists before the first delivery.
            Directory.CreateDirectory(Path.Combine(dir, "mail"));
            File.WriteAllText(Path.Combine(dir, "main.cf"), MainCf(dir, user));
            File.WriteAllText(Path.Combine(dir, "master.cf"), MasterCf(smtpPort, submissionPort));
            File.WriteAllText(Path.Combine(dir, "aliases"), $"# aliases(5): name: target, target…  Run `posthorn newaliases` after a change.\npostmaster: root\nroot: {user}\n");
            WriteSecrets(dir, user, ctx.Clock.GetUtcNow());
            ctx.Out.WriteLine($"Created the demo configuration in {dir}");
        }
        (smtpPort, submissionPort) = Ports(dir, smtpPort, submissionPort);
        var withDir = new ToolContext
        {
            Out = ctx.Out, Err = ctx.Err, In = ctx.In, OpenStdin = ctx.OpenStdin, Clock = ctx.Clock,
            ExecutablePath = ctx.ExecutablePath,
            GetEnv = name => name == "MAIL_CONFIG" ? dir : ctx.GetEnv(name),
        };
        int rc = ToolShims.Newaliases([], withDir);
        if (rc != 0) return rc;

        ctx.Out.WriteLine($"""

            Posthorn demo: SMTP on 127.0.0.1:{smtpPort}, submission on 127.0.0.1:{submissionPort} (STARTTLS, then AUTH as {user} / {Password}).
              configuration   {dir}/main.cf, master.cf, aliases
              mail for {user} lands in {dir}/mail/{user} (mbox; root and postmaster are aliased to {user})
              log             {dir}/maillog

            Send a message with nc (in another terminal):
              printf 'HELO me\r\nMAIL FROM:<you@example.com>\r\nRCPT TO:<{user}@localhost>\r\nDATA\r\nSubject: hello\r\n\r\nHello from nc\r\n.\r\nQUIT\r\n' | nc 127.0.0.1 {smtpPort}
            With TLS and a login, as a mail program submits:
              swaks --server 127.0.0.1:{submissionPort} --tls --auth-user {user} --auth-password {Password} --to {user}@localhost
            Read it:      mutt -f {dir}/mail/{user}
            The tools:    export MAIL_CONFIG={dir}; posthorn postconf -n; posthorn mailq; posthorn postfix reload
            Ctrl-C stops the daemon.

            """);
        return await MasterDaemon.RunAsync(dir, ctx.Err);
    }

    private static string MainCf(string dir, string user) => $"""
        # Posthorn demo configuration: Postfix's main.cf syntax, parameter names and defaults.
        # `posthorn postconf -n` shows what is set here; `posthorn postconf -d` shows every default.

        # Listen on loopback only; mynetworks_style = host trusts this host alone.
        inet_interfaces = loopback-only
        mynetworks_style = host

        # Mail for $myhostname, localhost.$mydomain and localhost is delivered here (the default).
        mydestination = $myhostname, localhost.$mydomain, localhost

        # Everything lives under this directory, so no root is needed.
        queue_directory = {dir}/queue
        data_directory = {dir}/data
        mail_spool_directory = {dir}/mail
        maillog_file = {dir}/maillog
        alias_maps = hash:{dir}/aliases
        alias_database = hash:{dir}/aliases
        mail_owner = {user}

        # TLS with the self-signed certificate in tls/ (posthorn tls new-server-cert makes another).
        smtpd_tls_cert_file = {dir}/tls/cert.pem
        smtpd_tls_key_file = {dir}/tls/key.pem
        smtpd_tls_security_level = may
        smtpd_tls_loglevel = 1
        smtpd_tls_received_header = yes

        # SMTP AUTH against a Dovecot-style passwd-file (posthorn pw makes its password fields).
        smtpd_sasl_type = posthorn
        posthorn_passwd_file = {dir}/passwd

        """;

    private static string MasterCf(int smtpPort, int submissionPort) => $"""
        # master.cf: the services. service type private unpriv chroot wakeup maxproc command + args
        127.0.0.1:{smtpPort}  inet  n  -  n  -  -  smtpd
        # As Postfix's stock submission row: TLS first, then AUTH, and only authenticated clients may send.
        127.0.0.1:{submissionPort}  inet  n  -  n  -  -  smtpd
          -o syslog_name=postfix/submission
          -o smtpd_tls_security_level=encrypt
          -o smtpd_sasl_auth_enable=yes
          -o smtpd_client_restrictions=permit_sasl_authenticated,reject
        """;

    /// <summary>The certificate, its key (0600) and the passwd-file (0600) with the demo user.</summary>
    private static void WriteSecrets(string dir, string user, DateTimeOffset now)
    {
        var secret = new FileStreamOptions
        {
            Mode = FileMode.Create, Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        Directory.CreateDirectory(Path.Combine(dir, "tls"));
        var (certPem, keyPem) = TlsCommand.CreateSelfSigned("localhost", now);
        using (var key = new StreamWriter(Path.Combine(dir, "tls", "key.pem"), secret)) key.Write(keyPem);
        File.WriteAllText(Path.Combine(dir, "tls", "cert.pem"), certPem);
        string field = PwCommand.Make("SHA512-CRYPT", Password) ?? PwCommand.Make("SCRAM-SHA-256", Password)!;
        using var passwd = new StreamWriter(Path.Combine(dir, "passwd"), secret);
        passwd.Write($"{user}:{field}::::::\n");
    }

    /// <summary>The ports master.cf names (an older demo directory keeps its own), else the given ones.</summary>
    private static (int Smtp, int Submission) Ports(string dir, int smtp, int submission)
    {
        var ports = File.ReadLines(Path.Combine(dir, "master.cf"))
            .Where(l => l.StartsWith("127.0.0.1:", StringComparison.Ordinal))
            .Select(l => int.TryParse(l["127.0.0.1:".Length..].Split(' ', 2)[0], out int p) ? p : 0)
            .Where(p => p > 0).ToList();
        return ports.Count >= 2 ? (ports[0], ports[1]) : (smtp, submission);
    }
}
