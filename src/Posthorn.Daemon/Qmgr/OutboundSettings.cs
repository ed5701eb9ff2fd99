using System.Net;
using Posthorn.Config;
using Posthorn.Mail.Outbound;

namespace Posthorn.Daemon.Qmgr;

/// <summary>What qmgr and smtp(8) read from main.cf for mail that leaves the host.</summary>
/// <remarks>Parameters: relayhost, smtp_* timeouts, smtp_tls_security_level, smtp_host_lookup,
/// inet_protocols, smtp_bind_address, smtp_mx_address_limit, smtp_mx_session_limit,
/// smtp_destination_concurrency_limit, smtp_destination_recipient_limit, posthorn_dns_servers (extension).</remarks>
public sealed record OutboundSettings(
    SmtpClientOptions Smtp, HostLookupOptions Lookup, IReadOnlyList<IPEndPoint> DnsServers, NextHop? RelayHost,
    int DestinationConcurrencyLimit, int DestinationRecipientLimit, string MyHostname, string MailName)
{
    public static OutboundSettings From(ConfigSnapshot cfg)
    {
        var protocols = cfg.GetList("inet_protocols").Select(p => p.ToLowerInvariant()).ToList();
        bool all = protocols.Contains("all");
        string level = cfg.Get("smtp_tls_security_level").Trim().ToLowerInvariant();
        var smtp = new SmtpClientOptions
        {
            HeloName = cfg.Get("smtp_helo_name"),
            // Postfix's default is empty (none); Posthorn's STARTTLS-when-offered default is Postfix's "may".
            // DEVIATION: an empty smtp_tls_security_level means "may", and verify/secure act as encrypt
            // (no certificate verification yet).
            TlsLevel = level switch { "none" => SmtpTlsLevel.None, "encrypt" or "verify" or "secure" or "dane" or "dane-only" => SmtpTlsLevel.Encrypt, _ => SmtpTlsLevel.May },
            ConnectTimeout = cfg.GetTime("smtp_connect_timeout"),
            HeloTimeout = cfg.GetTime("smtp_helo_timeout"),
            StartTlsTimeout = cfg.GetTime("smtp_starttls_timeout"),
            MailTimeout = cfg.GetTime("smtp_mail_timeout"),
            RcptTimeout = cfg.GetTime("smtp_rcpt_timeout"),
            DataInitTimeout = cfg.GetTime("smtp_data_init_timeout"),
            DataXferTimeout = cfg.GetTime("smtp_data_xfer_timeout"),
            DataDoneTimeout = cfg.GetTime("smtp_data_done_timeout"),
            QuitTimeout = cfg.GetTime("smtp_quit_timeout"),
            MxSessionLimit = (int)Math.Max(1, cfg.GetNumber("smtp_mx_session_limit")),
            ReplyLineLimit = (int)Math.Max(512, cfg.GetNumber("line_length_limit")),
            BindAddress = IPAddress.TryParse(cfg.Get("smtp_bind_address"), out var bind) ? bind : null,
        };
        var lookup = new HostLookupOptions
        {
            HostLookup = cfg.GetList("smtp_host_lookup"),
            UseIPv4 = all || protocols.Contains("ipv4"),
            UseIPv6 = all || protocols.Contains("ipv6"),
            MxAddressLimit = (int)cfg.GetNumber("smtp_mx_address_limit"),
        };
        var servers = new List<IPEndPoint>();
        foreach (var s in cfg.GetList("posthorn_dns_servers"))
            if (DnsClientResolver.TryParseServer(s, out var ep)) servers.Add(ep);
        string relay = cfg.Get("relayhost").Trim();
        return new OutboundSettings(smtp, lookup, servers,
            relay.Length > 0 && NextHop.TryParse(relay, out var hop) ? hop : null,
            (int)Math.Max(1, cfg.GetNumber("smtp_destination_concurrency_limit")),
            (int)Math.Max(1, cfg.GetNumber("smtp_destination_recipient_limit")),
            cfg.Get("myhostname"), cfg.Get("mail_name"));
    }

    /// <summary>Postfix trivial-rewrite: relayhost when set, otherwise the recipient's domain.</summary>
    public NextHop NextHopFor(string domain) => RelayHost ?? NextHop.ForDomain(domain.ToLowerInvariant());
}
