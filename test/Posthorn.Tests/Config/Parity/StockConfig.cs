namespace Posthorn.Tests.Config.Parity;

/// <summary>The golden corpus: a stock-style commented main.cf edited as an administrator does at install
/// (myhostname, mydomain, myorigin, inet_interfaces, mydestination, mynetworks_style, mynetworks uncommented),
/// a master.cf in Postfix's layout, lookup tables, and the exact outputs Postfix 3.7.11 (Debian) gives for
/// them. The expected outputs were produced by the real postconf/postmap on these very files and are checked
/// against Posthorn on every run (<see cref="PostfixGoldenTests"/>), and against the real tools wherever they
/// are installed (<see cref="PostfixParityTests"/>). <c>{DIR}</c> stands for the configuration directory.</summary>
internal static class StockConfig
{
    public const string MainCf = """
        # main.cf - the global mail system configuration.
        #
        # Only the settings an administrator usually changes are listed here;
        # every other parameter keeps its default (see "postconf -d").
        # A line that starts with white space continues the line above it.
        # After a change, run "postfix reload".

        # LOCAL PATHNAMES
        #
        # The queue_directory holds the mail queue and the daemon's sockets.
        queue_directory = /var/spool/postfix

        # The command_directory holds the administration commands.
        command_directory = /usr/sbin

        # QUEUE AND PROCESS OWNERSHIP
        #
        # The mail_owner owns the queue and runs most of the mail system.
        # Give it its own user and group, shared with nothing else.
        mail_owner = postfix

        # INTERNET HOST AND DOMAIN NAMES
        #
        # The myhostname parameter is this machine's fully-qualified name.
        #myhostname = host.domain.tld
        myhostname = mail.example.com

        # The mydomain parameter is the local Internet domain name.
        #mydomain = domain.tld
        mydomain = example.com

        # SENDING MAIL
        #
        # The myorigin parameter is the domain that locally-posted mail
        # appears to come from.
        #myorigin = $myhostname
        myorigin = $mydomain

        # RECEIVING MAIL
        #
        # The inet_interfaces parameter lists the network interface addresses
        # this system receives mail on.
        #inet_interfaces = all
        #inet_interfaces = $myhostname
        inet_interfaces = $myhostname, localhost

        # The mydestination parameter lists the domains this machine delivers
        # locally.
        #mydestination = $myhostname, localhost.$mydomain, localhost
        mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain,
        	mail.$mydomain, www.$mydomain, ftp.$mydomain

        # REJECTING UNKNOWN LOCAL USERS
        unknown_local_recipient_reject_code = 550

        # TRUST AND RELAY CONTROL
        #
        # The mynetworks_style parameter says how mynetworks is computed when it
        # is not set: host, subnet or class.
        #mynetworks_style = class
        #mynetworks_style = subnet
        mynetworks_style = host

        # The mynetworks parameter lists the trusted SMTP clients explicitly.
        #mynetworks = 168.100.189.0/28, 127.0.0.0/8
        mynetworks = 168.100.189.0/28, 127.0.0.0/8, [::1]/128,
            192.168.0.0/16
        #relay_domains = $mydestination

        # ALIAS DATABASE
        alias_maps = hash:/etc/aliases
        alias_database = hash:/etc/aliases

        # DELIVERY TO MAILBOX
        #home_mailbox = Mailbox
        home_mailbox = Maildir/
        #mail_spool_directory = /var/mail

        # SHOW SOFTWARE VERSION OR NOT
        #smtpd_banner = $myhostname ESMTP $mail_name
        smtpd_banner = $myhostname ESMTP $mail_name ($mail_version)

        # RESTRICTIONS
        smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, reject_unknown_recipient_domain, check_recipient_access hash:/etc/postfix/recipient_access
        smtpd_relay_restrictions = permit_mynetworks
        	permit_sasl_authenticated
        	defer_unauth_destination

        message_size_limit = 52428800
        mailbox_size_limit = 0
        recipient_delimiter = +
        """;

    public const string MasterCf = """
        #
        # master.cf - the mail system's service table.
        #
        # Run "postfix reload" after a change.
        #
        # ==========================================================================
        # service type  private unpriv  chroot  wakeup  maxproc command + args
        #               (yes)   (yes)   (no)    (never) (100)
        # ==========================================================================
        smtp      inet  n       -       y       -       -       smtpd
        #smtp      inet  n       -       y       -       1       postscreen
        submission inet n       -       y       -       -       smtpd
          -o syslog_name=postfix/submission
          -o smtpd_tls_security_level=encrypt
          -o smtpd_sasl_auth_enable=yes
          -o smtpd_client_restrictions=permit_sasl_authenticated,reject
          -o smtpd_recipient_restrictions=
          -o milter_macro_daemon_name=ORIGINATING
        #smtps     inet  n       -       y       -       -       smtpd
        #  -o syslog_name=postfix/smtps
        pickup    unix  n       -       y       60      1       pickup
        cleanup   unix  n       -       y       -       0       cleanup
        qmgr      unix  n       -       n       300     1       qmgr
        tlsmgr    unix  -       -       y       1000?   1       tlsmgr
        rewrite   unix  -       -       y       -       -       trivial-rewrite
        bounce    unix  -       -       y       -       0       bounce
        defer     unix  -       -       y       -       0       bounce
        trace     unix  -       -       y       -       0       bounce
        verify    unix  -       -       y       -       1       verify
        flush     unix  n       -       y       1000?   0       flush
        proxymap  unix  -       -       n       -       -       proxymap
        smtp      unix  -       -       y       -       -       smtp
        relay     unix  -       -       y       -       -       smtp
                -o syslog_name=postfix/$service_name
        showq     unix  n       -       y       -       -       showq
        error     unix  -       -       y       -       -       error
        retry     unix  -       -       y       -       -       error
        discard   unix  -       -       y       -       -       discard
        local     unix  -       n       n       -       -       local
        virtual   unix  -       n       n       -       -       virtual
        lmtp      unix  -       -       y       -       -       lmtp
        anvil     unix  -       -       y       -       1       anvil
        scache    unix  -       -       y       -       1       scache
        postlog   unix-dgram n  -       n       -       1       postlogd
        #
        # Posthorn's own services are ordinary rows.
        imap      inet  n       -       n       -       -       imapd
        pop3      inet  n       -       n       -       -       pop3d
        #
        # Delivery through external programs (pipe).
        maildrop  unix  -       n       n       -       -       pipe
          flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
        uucp      unix  -       n       n       -       -       pipe
          flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)
        long-service-name-here unix - n n - 2 pipe flags=R user=list argv=/usr/lib/some/very/long/path/to/a/program ${nexthop} ${user} ${extension}
        filter    unix  -       n       n       -       10      pipe
          flags=Rq user=filter null_sender=
          argv=/usr/local/bin/content-filter -f ${sender} -- ${recipient}
        """;

    /// <summary><c>postconf -c DIR -n</c>.</summary>
    public const string DashN = """
        alias_database = hash:/etc/aliases
        alias_maps = hash:/etc/aliases
        command_directory = /usr/sbin
        config_directory = {DIR}
        home_mailbox = Maildir/
        inet_interfaces = $myhostname, localhost
        mail_owner = postfix
        mailbox_size_limit = 0
        message_size_limit = 52428800
        mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain, mail.$mydomain, www.$mydomain, ftp.$mydomain
        mydomain = example.com
        myhostname = mail.example.com
        mynetworks = 168.100.189.0/28, 127.0.0.0/8, [::1]/128, 192.168.0.0/16
        mynetworks_style = host
        myorigin = $mydomain
        queue_directory = /var/spool/postfix
        recipient_delimiter = +
        smtpd_banner = $myhostname ESMTP $mail_name ($mail_version)
        smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, reject_unknown_recipient_domain, check_recipient_access hash:/etc/postfix/recipient_access
        smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
        unknown_local_recipient_reject_code = 550
        """;

    /// <summary><c>postconf -c DIR -nf</c>: long values folded at 80 columns.</summary>
    public const string DashNf = """
        alias_database = hash:/etc/aliases
        alias_maps = hash:/etc/aliases
        command_directory = /usr/sbin
        config_directory = {DIR}
        home_mailbox = Maildir/
        inet_interfaces = $myhostname, localhost
        mail_owner = postfix
        mailbox_size_limit = 0
        message_size_limit = 52428800
        mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain,
            mail.$mydomain, www.$mydomain, ftp.$mydomain
        mydomain = example.com
        myhostname = mail.example.com
        mynetworks = 168.100.189.0/28, 127.0.0.0/8, [::1]/128, 192.168.0.0/16
        mynetworks_style = host
        myorigin = $mydomain
        queue_directory = /var/spool/postfix
        recipient_delimiter = +
        smtpd_banner = $myhostname ESMTP $mail_name ($mail_version)
        smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated,
            reject_unauth_destination, reject_unknown_recipient_domain,
            check_recipient_access hash:/etc/postfix/recipient_access
        smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated
            defer_unauth_destination
        unknown_local_recipient_reject_code = 550
        """;

    /// <summary><c>postconf -c DIR -M</c>.</summary>
    public const string DashM = """
        smtp       inet  n       -       y       -       -       smtpd
        submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_recipient_restrictions= -o milter_macro_daemon_name=ORIGINATING
        pickup     unix  n       -       y       60      1       pickup
        cleanup    unix  n       -       y       -       0       cleanup
        qmgr       unix  n       -       n       300     1       qmgr
        tlsmgr     unix  -       -       y       1000?   1       tlsmgr
        rewrite    unix  -       -       y       -       -       trivial-rewrite
        bounce     unix  -       -       y       -       0       bounce
        defer      unix  -       -       y       -       0       bounce
        trace      unix  -       -       y       -       0       bounce
        verify     unix  -       -       y       -       1       verify
        flush      unix  n       -       y       1000?   0       flush
        proxymap   unix  -       -       n       -       -       proxymap
        smtp       unix  -       -       y       -       -       smtp
        relay      unix  -       -       y       -       -       smtp -o syslog_name=postfix/$service_name
        showq      unix  n       -       y       -       -       showq
        error      unix  -       -       y       -       -       error
        retry      unix  -       -       y       -       -       error
        discard    unix  -       -       y       -       -       discard
        local      unix  -       n       n       -       -       local
        virtual    unix  -       n       n       -       -       virtual
        lmtp       unix  -       -       y       -       -       lmtp
        anvil      unix  -       -       y       -       1       anvil
        scache     unix  -       -       y       -       1       scache
        postlog    unix-dgram n  -       n       -       1       postlogd
        imap       inet  n       -       n       -       -       imapd
        pop3       inet  n       -       n       -       -       pop3d
        maildrop   unix  -       n       n       -       -       pipe flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
        uucp       unix  -       n       n       -       -       pipe flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)
        long-service-name-here unix - n  n       -       2       pipe flags=R user=list argv=/usr/lib/some/very/long/path/to/a/program ${nexthop} ${user} ${extension}
        filter     unix  -       n       n       -       10      pipe flags=Rq user=filter null_sender= argv=/usr/local/bin/content-filter -f ${sender} -- ${recipient}
        """;

    /// <summary><c>postconf -c DIR -Mf</c>: each <c>-o</c> on a line of its own, long commands folded.</summary>
    public const string DashMf = """
        smtp       inet  n       -       y       -       -       smtpd
        submission inet  n       -       y       -       -       smtpd
            -o syslog_name=postfix/submission
            -o smtpd_tls_security_level=encrypt
            -o smtpd_sasl_auth_enable=yes
            -o smtpd_client_restrictions=permit_sasl_authenticated,reject
            -o smtpd_recipient_restrictions=
            -o milter_macro_daemon_name=ORIGINATING
        pickup     unix  n       -       y       60      1       pickup
        cleanup    unix  n       -       y       -       0       cleanup
        qmgr       unix  n       -       n       300     1       qmgr
        tlsmgr     unix  -       -       y       1000?   1       tlsmgr
        rewrite    unix  -       -       y       -       -       trivial-rewrite
        bounce     unix  -       -       y       -       0       bounce
        defer      unix  -       -       y       -       0       bounce
        trace      unix  -       -       y       -       0       bounce
        verify     unix  -       -       y       -       1       verify
        flush      unix  n       -       y       1000?   0       flush
        proxymap   unix  -       -       n       -       -       proxymap
        smtp       unix  -       -       y       -       -       smtp
        relay      unix  -       -       y       -       -       smtp
            -o syslog_name=postfix/$service_name
        showq      unix  n       -       y       -       -       showq
        error      unix  -       -       y       -       -       error
        retry      unix  -       -       y       -       -       error
        discard    unix  -       -       y       -       -       discard
        local      unix  -       n       n       -       -       local
        virtual    unix  -       n       n       -       -       virtual
        lmtp       unix  -       -       y       -       -       lmtp
        anvil      unix  -       -       y       -       1       anvil
        scache     unix  -       -       y       -       1       scache
        postlog    unix-dgram n  -       n       -       1       postlogd
        imap       inet  n       -       n       -       -       imapd
        pop3       inet  n       -       n       -       -       pop3d
        maildrop   unix  -       n       n       -       -       pipe flags=DRXhu
            user=vmail argv=/usr/bin/maildrop -d ${recipient}
        uucp       unix  -       n       n       -       -       pipe flags=Fqhu
            user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)
        long-service-name-here unix - n  n       -       2       pipe flags=R user=list
            argv=/usr/lib/some/very/long/path/to/a/program ${nexthop} ${user}
            ${extension}
        filter     unix  -       n       n       -       10      pipe flags=Rq
            user=filter null_sender= argv=/usr/local/bin/content-filter -f ${sender} --
            ${recipient}
        """;

    /// <summary><c>postconf -c DIR -P</c>.</summary>
    public const string DashP = """
        submission/inet/milter_macro_daemon_name = ORIGINATING
        submission/inet/smtpd_client_restrictions = permit_sasl_authenticated,reject
        submission/inet/smtpd_recipient_restrictions =
        submission/inet/smtpd_sasl_auth_enable = yes
        submission/inet/smtpd_tls_security_level = encrypt
        submission/inet/syslog_name = postfix/submission
        relay/unix/syslog_name = postfix/$service_name
        """;

    /// <summary><c>postconf -c DIR -F submission/inet relay/unix/command</c>.</summary>
    public const string DashF = """
        submission/inet/service = submission
        submission/inet/type = inet
        submission/inet/private = n
        submission/inet/unprivileged = -
        submission/inet/chroot = y
        submission/inet/wakeup = -
        submission/inet/process_limit = -
        submission/inet/command = smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_recipient_restrictions= -o milter_macro_daemon_name=ORIGINATING
        relay/unix/command = smtp -o syslog_name=postfix/$service_name
        """;

    /// <summary><c>postconf -c DIR -h mydestination myorigin mynetworks inet_interfaces</c>.</summary>
    public const string DashH = """
        $myhostname, localhost.$mydomain, localhost, $mydomain, mail.$mydomain, www.$mydomain, ftp.$mydomain
        $mydomain
        168.100.189.0/28, 127.0.0.0/8, [::1]/128, 192.168.0.0/16
        $myhostname, localhost
        """;

    /// <summary><c>postconf -c DIR -x mydestination myorigin</c>.</summary>
    public const string DashX = """
        mydestination = mail.example.com, localhost.example.com, localhost, example.com, mail.example.com, www.example.com, ftp.example.com
        myorigin = example.com
        """;

    /// <summary><c>postconf -d</c> for defaults that do not depend on the machine or the build.</summary>
    public const string DashD = """
        message_size_limit = 10240000
        mailbox_size_limit = 51200000
        myorigin = $myhostname
        mydestination = $myhostname, localhost.$mydomain, localhost
        smtpd_banner = $myhostname ESMTP $mail_name
        recipient_delimiter =
        home_mailbox =
        relayhost =
        inet_interfaces = all
        """;
}
