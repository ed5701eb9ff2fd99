namespace Posthorn.Config;

public static partial class ParameterRegistry
{
    /// <summary>qmgr(8), bounce(8) and the smtp(8)/lmtp(8) client.</summary>
    private static IEnumerable<Parameter> QueueParameters() =>
    [
        // Queue manager and scheduling.
        Time("queue_run_delay", "300s", "How often the deferred queue is scanned."),
        Time("minimal_backoff_time", "300s", "Shortest time between delivery attempts of a deferred message."),
        Time("maximal_backoff_time", "4000s", "Longest time between delivery attempts of a deferred message."),
        Time("maximal_queue_lifetime", "5d", "How long a message stays deferred before it bounces."),
        Time("bounce_queue_lifetime", "5d", "How long a bounce stays deferred before it is discarded."),
        Time("delay_warning_time", "0h", "When to warn the sender of delayed mail; 0 disables."),
        Num("qmgr_message_active_limit", "20000", "Most messages in the active queue."),
        Num("qmgr_message_recipient_limit", "20000", "Most recipients held in memory."),
        Num("default_destination_concurrency_limit", "20", "Most parallel deliveries to one destination."),
        Num("default_destination_recipient_limit", "50", "Most recipients per delivery."),
        Num("initial_destination_concurrency", "5", "Initial parallel deliveries to one destination."),
        Time("default_destination_rate_delay", "0s", "Delay between deliveries to one destination."),
        Num("local_destination_concurrency_limit", "2", "Most parallel local deliveries to one recipient."),
        Num("local_destination_recipient_limit", "1", "Most recipients per local delivery."),
        Text("default_transport", "smtp", "Delivery method for non-local mail."),
        Text("local_transport", "local:$myhostname", "Delivery method for domains in mydestination."),
        Text("relay_transport", "relay", "Delivery method for domains in relay_domains."),
        Text("virtual_transport", "virtual", "Delivery method for virtual_mailbox_domains."),
        Maps("transport_maps", "", "Tables of next-hop destinations by recipient or domain."),
        Bool("soft_bounce", "no", "Turn every bounce into a deferral."),
        List("notify_classes", "resource, software", "Problems reported to the postmaster."),
        Text("2bounce_notice_recipient", "postmaster", "Recipient of undeliverable bounces."),
        Text("bounce_notice_recipient", "postmaster", "Recipient of bounce notices to the postmaster."),
        Text("delay_notice_recipient", "postmaster", "Recipient of delay notices to the postmaster."),
        Text("error_notice_recipient", "postmaster", "Recipient of protocol and resource notices."),
        Text("double_bounce_sender", "double-bounce", "Sender address of postmaster notifications."),
        Text("empty_address_recipient", "MAILER-DAEMON", "Recipient of mail with an empty recipient address."),
        Bool("enable_original_recipient", "yes", "Record the original recipient address."),
        List("always_bcc", "", "Address that receives a copy of every message."),

        // smtp(8) client.
        Text("smtp_helo_name", "$myhostname", "Host name sent in the SMTP client's EHLO."),
        Time("smtp_connect_timeout", "30s", "Time limit for establishing a TCP connection."),
        Time("smtp_helo_timeout", "300s", "Time limit for the greeting and EHLO reply."),
        Text("smtp_bind_address", "", "Local IPv4 address for outgoing connections."),
        Text("smtp_tls_security_level", "", "SMTP client TLS: none, may, encrypt, verify, secure."),
        Text("smtp_tls_CAfile", "", "PEM file of trusted server certificate authorities."),
        Bool("smtp_sasl_auth_enable", "no", "Enable SMTP client AUTH."),
        Maps("smtp_sasl_password_maps", "", "Client credentials by destination."),
        Text("smtp_host_lookup", "dns", "How the SMTP client finds server addresses."),
        Time("smtp_starttls_timeout", "300s", "Time limit for the STARTTLS handshake."),
        Time("smtp_mail_timeout", "300s", "Time limit for the reply to MAIL FROM."),
        Time("smtp_rcpt_timeout", "300s", "Time limit for the reply to RCPT TO."),
        Time("smtp_data_init_timeout", "120s", "Time limit for the reply to DATA."),
        Time("smtp_data_xfer_timeout", "180s", "Time limit for sending the message content."),
        Time("smtp_data_done_timeout", "600s", "Time limit for the reply to the final dot."),
        Time("smtp_quit_timeout", "300s", "Time limit for the reply to QUIT."),
        Num("smtp_mx_address_limit", "5", "Most MX addresses to try in one delivery."),
        Num("smtp_mx_session_limit", "2", "Most SMTP sessions per delivery."),
        // Posthorn extension: the DNS servers the SMTP client asks (ip or ip:port); empty = /etc/resolv.conf.
        List("posthorn_dns_servers", "", "Posthorn extension: DNS servers for MX/A/AAAA lookups instead of resolv.conf."),
        Bool("disable_dns_lookups", "no", "Disable DNS lookups in the SMTP client."),
        Num("smtp_destination_concurrency_limit", "$default_destination_concurrency_limit", "Parallel smtp(8) deliveries per destination."),
        Num("smtp_destination_recipient_limit", "$default_destination_recipient_limit", "Recipients per smtp(8) delivery."),
    ];
}
