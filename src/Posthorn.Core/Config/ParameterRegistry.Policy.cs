namespace Posthorn.Config;

public static partial class ParameterRegistry
{
    /// <summary>smtpd(8) access restrictions, reply codes, content inspection.</summary>
    private static IEnumerable<Parameter> PolicyParameters() =>
    [
        // smtpd(8) access restrictions.
        List("smtpd_client_restrictions", "", "Access restrictions applied at connect time."),
        List("smtpd_helo_restrictions", "", "Access restrictions applied to HELO/EHLO."),
        List("smtpd_sender_restrictions", "", "Access restrictions applied to MAIL FROM."),
        List("smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
            "Relay control restrictions applied to RCPT TO."),
        List("smtpd_recipient_restrictions", "", "Spam blocking restrictions applied to RCPT TO."),
        List("smtpd_data_restrictions", "", "Access restrictions applied to DATA."),
        List("smtpd_end_of_data_restrictions", "", "Access restrictions applied at end of data."),
        List("smtpd_etrn_restrictions", "", "Access restrictions applied to ETRN."),
        Bool("smtpd_reject_unlisted_recipient", "yes", "Reject unknown recipients in local, virtual and relay domains."),
        Bool("smtpd_reject_unlisted_sender", "no", "Reject unknown sender addresses in our domains."),
        Num("reject_code", "554", "Reply code for reject restrictions."),
        Num("relay_domains_reject_code", "554", "Reply code for an unauthorized relay attempt."),
        Num("unknown_local_recipient_reject_code", "550", "Reply code for an unknown local recipient."),
        Num("unknown_client_reject_code", "450", "Reply code for reject_unknown_client_hostname and reject_unknown_reverse_client_hostname."),
        Num("unknown_virtual_alias_reject_code", "550", "Reply code for an unknown virtual alias recipient."),
        Num("unknown_address_reject_code", "450", "Reply code for an unresolvable address domain."),
        Num("unknown_hostname_reject_code", "450", "Reply code for reject_unknown_helo_hostname."),
        Text("reject_tempfail_action", "defer_if_permit", "Action after a temporary error in a reject_unknown_* restriction."),
        Text("unknown_helo_hostname_tempfail_action", "$reject_tempfail_action",
            "Action when reject_unknown_helo_hostname meets a temporary DNS error."),
        Text("unknown_address_tempfail_action", "$reject_tempfail_action",
            "Action when reject_unknown_sender_domain or reject_unknown_recipient_domain meets a temporary DNS error."),
        List("smtpd_log_access_permit_actions", "", "Permit actions that are logged (e.g. permit_dnswl_client, static:all)."),
        Num("access_map_reject_code", "554", "Reply code for an access map REJECT."),
        Num("access_map_defer_code", "450", "Reply code for an access map DEFER."),
        Num("defer_code", "450", "Reply code for the defer restriction."),
        Num("maps_rbl_reject_code", "554", "Reply code for a client listed in a DNS blocklist."),
        Num("invalid_hostname_reject_code", "501", "Reply code for reject_invalid_helo_hostname."),
        Num("non_fqdn_reject_code", "504", "Reply code for the reject_non_fqdn_* restrictions."),
        List("smtpd_restriction_classes", "", "Named lists of restrictions usable as access table results."),
        Text("content_filter", "", "Transport that receives every message for filtering."),
        Maps("header_checks", "", "Pattern tables applied to header lines."),
        Maps("body_checks", "", "Pattern tables applied to body lines."),
        Maps("mime_header_checks", "$header_checks", "Pattern tables applied to MIME headers."),
        Maps("nested_header_checks", "$header_checks", "Pattern tables applied to headers of attached messages."),
        Size("body_checks_size_limit", "51200", "Body bytes inspected by body_checks."),
        List("smtpd_client_event_limit_exceptions", "${smtpd_client_connection_limit_exceptions:$mynetworks}", "Clients the smtpd_client_*_rate_limit limits do not apply to."),
        Time("smtpd_policy_service_timeout", "100s", "Time limit for one policy service request."),
        Time("smtpd_policy_service_max_idle", "300s", "Idle time after which a policy service connection is closed."),
        Text("smtpd_policy_service_default_action", "451 4.3.5 Server configuration problem",
            "Reply when a policy service cannot be reached."),
        List("local_header_rewrite_clients", "permit_inet_interfaces", "Clients whose headers are rewritten."),
    ];
}
