namespace Posthorn.Config;

public static partial class ParameterRegistry
{
    /// <summary>The posthorn version, shown as <c>mail_version</c>.</summary>
    public const string Version = "0.1";

    // Defaults as postconf(5) gives them for Postfix 3.x at compatibility_level 3.6.
    private static IEnumerable<Parameter> Table() =>
        [.. CoreParameters(), .. QueueParameters(), .. RewriteParameters(), .. DeliveryParameters(),
         .. SmtpdParameters(), .. PolicyParameters(), .. ImapParameters()];

    /// <summary>Identity, directories, logging, processes and limits.</summary>
    private static IEnumerable<Parameter> CoreParameters() =>
    [
        // Identity and addresses.
        Text("myhostname", "", "The Internet hostname of this mail system.") with { Computed = true },
        Text("mydomain", "", "The Internet domain name of this mail system; $myhostname less its first label.") with { Computed = true },
        Text("myorigin", "$myhostname", "The domain that locally-posted mail appears to come from."),
        List("mydestination", "$myhostname, localhost.$mydomain, localhost", "Domains this machine delivers locally."),
        List("inet_interfaces", "all", "Network interface addresses this mail system receives mail on."),
        List("inet_protocols", "all", "Internet protocols to use: ipv4, ipv6, all."),
        List("proxy_interfaces", "", "Remote interfaces this system receives mail on via a proxy or NAT."),
        List("mynetworks", "", "Trusted SMTP clients; computed from mynetworks_style when unset.") with { Computed = true },
        Text("mynetworks_style", "host", "How to compute mynetworks: host, subnet or class."),
        List("relay_domains", "", "Remote destinations this system will relay mail to."),
        Text("relayhost", "", "The next-hop destination of non-local mail."),
        List("parent_domain_matches_subdomains",
            "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps",
            "Features where a domain name also matches its subdomains."),
        Text("recipient_delimiter", "", "Separators between user names and address extensions."),
        Bool("append_at_myorigin", "yes", "Append @$myorigin to local addresses without a domain."),
        Bool("append_dot_mydomain", "no", "Append .$mydomain to addresses without a dot in the domain."),
        Bool("swap_bangpath", "yes", "Rewrite site!user to user@site."),
        Bool("allow_percent_hack", "yes", "Rewrite user%domain to user@domain."),
        Bool("resolve_dequoted_address", "yes", "Resolve \"user@domain\"@local as the address inside the quotes (relay control)."),
        Bool("resolve_null_domain", "no", "Resolve an address with an empty domain (user@) as the local domain."),
        Bool("resolve_numeric_domain", "no", "Resolve user@ipaddress as user@[ipaddress]."),
        Bool("allow_untrusted_routing", "no", "Let untrusted clients relay sender-specified routes (user@x@y, user%x@y, x!user@y)."),
        List("masquerade_domains", "", "Domains whose subdomains are stripped from addresses."),
        List("propagate_unmatched_extensions", "canonical, virtual", "Lookup tables that propagate an address extension."),

        // Program identity, directories, ownership.
        Text("mail_name", "Posthorn", "The mail system name in the SMTP greeting and bounces."), // DEVIATION: Postfix's is "Postfix".
        Text("mail_version", Version, "The version of the mail system."),
        Text("compatibility_level", "3.6", "Which defaults of which release this configuration expects."),
        Text("config_directory", "", "The directory with main.cf and master.cf.") with { Computed = true },
        Text("command_directory", "/usr/sbin", "The directory of the administrative commands."),
        Text("daemon_directory", "/usr/libexec/postfix", "The directory of the daemon programs."),
        Text("data_directory", "/var/lib/postfix", "The directory of caches and other writable data."),
        Text("queue_directory", "/var/spool/postfix", "The root of the mail queue."),
        Text("meta_directory", "/etc/postfix", "The directory of the installation's metadata files."),
        Text("process_id_directory", "pid", "Lock file directory, relative to the queue directory."),
        Text("sendmail_path", "/usr/sbin/sendmail", "Path of the sendmail command."),
        Text("newaliases_path", "/usr/bin/newaliases", "Path of the newaliases command."),
        Text("mailq_path", "/usr/bin/mailq", "Path of the mailq command."),
        Text("mail_owner", "postfix", "The owner of the queue and of most daemon processes."),
        Text("setgid_group", "postdrop", "The group of the mail submission and queue management commands."),
        Text("default_privs", "nobody", "The user rights of deliveries to external files and commands."),

        // Logging.
        Text("maillog_file", "", "File to log to instead of syslog."),
        Text("syslog_name", "postfix", "The prefix of the program names in log lines."),
        Text("syslog_facility", "mail", "The syslog facility."),

        // Process management.
        Num("default_process_limit", "100", "Default maximal number of processes per service."),
        Time("max_idle", "100s", "How long an idle service process waits for work."),
        Num("max_use", "100", "How many requests a service process handles before exiting."),
        Time("ipc_timeout", "3600s", "Time limit for internal communication."),
        Time("daemon_timeout", "18000s", "Time limit for a daemon request."),
        Time("trigger_timeout", "10s", "Time limit for sending a trigger."),
        Time("in_flow_delay", "1s", "Delay before accepting a new message when the queue is busy."),
        Text("stress", "", "Set to yes by the master when it is under stress."),

        // Limits.
        Size("message_size_limit", "10240000", "Largest message accepted, in bytes, envelope included."),
        Size("mailbox_size_limit", "51200000", "Largest mailbox or maildir file, in bytes."),
        Size("header_size_limit", "102400", "Largest message header, in bytes."),
        Size("bounce_size_limit", "50000", "How much of a message a bounce returns, in bytes."),
        Num("line_length_limit", "2048", "Longest line kept whole; longer lines are broken up."),
        Num("hopcount_limit", "50", "Most Received: headers before a message bounces as looping."),
    ];
}
