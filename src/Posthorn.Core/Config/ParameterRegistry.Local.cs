namespace Posthorn.Config;

public static partial class ParameterRegistry
{
    /// <summary>local(8) and virtual(8) delivery.</summary>
    private static IEnumerable<Parameter> DeliveryParameters() =>
    [
        // local(8).
        Text("home_mailbox", "", "Mailbox path relative to the home directory; Maildir/ for maildir."),
        Text("mail_spool_directory", "/var/mail", "The directory of UNIX-style mailboxes."),
        Text("mailbox_command", "", "Command that delivers to the mailbox instead of local(8).") with { Raw = true },
        Maps("mailbox_command_maps", "", "Per-user mailbox_command."),
        Text("mailbox_transport", "", "Transport for mailbox delivery."),
        Text("fallback_transport", "", "Transport for recipients not in the UNIX passwd database."),
        Maps("mailbox_transport_maps", "", "Per-user mailbox_transport."),
        Maps("fallback_transport_maps", "", "Per-user fallback_transport for recipients not in the UNIX passwd database."),
        List("mailbox_delivery_lock", "fcntl, dotlock", "Locks local(8) takes on mailbox files."),
        Text("luser_relay", "", "Destination of mail for unknown local recipients.") with { Raw = true },
        List("forward_path", "$home/.forward${recipient_delimiter}${extension}, $home/.forward",
            "Where local(8) looks for .forward files.") with { Raw = true },
        Text("command_execution_directory", "", "Working directory of commands run by local(8).") with { Raw = true },
        Time("command_time_limit", "1000s", "Time limit of a command delivery."),
        Text("local_command_shell", "", "Shell for commands run by local(8)."),
        List("prepend_delivered_header", "command, file, forward", "Deliveries that add a Delivered-To: header."),
        List("allow_mail_to_commands", "alias, forward", "Where |command destinations are allowed."),
        List("allow_mail_to_files", "alias, forward", "Where /file destinations are allowed."),
        Bool("biff", "yes", "Notify the local biff service of new mail."),
        // Posthorn extension (Dovecot deliver -m): user+Folder goes to the Maildir++ folder .Folder.
        Bool("posthorn_maildir_extension_folders", "no",
            "Posthorn extension: deliver user+folder to the existing Maildir++ folder .folder instead of the inbox."),
        Bool("require_home_directory", "no", "Require that the home directory exists before delivery."),
        List("export_environment", "TZ MAIL_CONFIG LANG", "Environment variables passed on to external commands."),
        Text("command_expansion_filter",
            "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "Characters local(8) allows in the environment of external commands."),
        Text("forward_expansion_filter",
            "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "Characters local(8) allows in $name expansions of forward_path."),

        // virtual(8).
        List("virtual_mailbox_domains", "$virtual_mailbox_maps", "Domains delivered by virtual(8)."),
        Maps("virtual_mailbox_maps", "", "Mailbox paths of virtual(8) recipients."),
        Text("virtual_mailbox_base", "", "Prefix of virtual_mailbox_maps paths."),
        Maps("virtual_uid_maps", "", "User ids of virtual(8) mailboxes."),
        Maps("virtual_gid_maps", "", "Group ids of virtual(8) mailboxes."),
        Num("virtual_minimum_uid", "100", "Smallest user id virtual(8) accepts."),
        Size("virtual_mailbox_limit", "51200000", "Largest virtual(8) mailbox file, in bytes."),
        // smtpd(8) answers an unknown virtual(8) mailbox with this code (Postfix postconf(5)).
        Num("unknown_virtual_mailbox_reject_code", "550", "SMTP reply code for an unknown recipient in a virtual mailbox domain."),
        List("virtual_mailbox_lock", "fcntl, dotlock", "Locks virtual(8) takes on mailbox files."),
    ];
}
