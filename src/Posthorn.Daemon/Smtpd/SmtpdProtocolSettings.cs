using System.Net;
using Posthorn.Config;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Smtpd;

/// <summary>The per-connection protocol settings of smtpd(8) that are not in <see cref="SmtpServerOptions"/>:
/// the SMTP smuggling defence and the pre-greet check, read from one configuration snapshot.</summary>
/// <remarks>Parameters: smtpd_forbid_bare_newline, smtpd_forbid_bare_newline_exclusions,
/// smtpd_forbid_bare_newline_reject_code (postconf(5), Postfix 3.9), posthorn_pregreet_action and
/// posthorn_pregreet_wait (Posthorn extensions, after postscreen(8) postscreen_greet_action/_wait).</remarks>
public sealed record SmtpdProtocolSettings(BareNewlineMode BareNewline, short BareNewlineRejectCode, NetworkList Exclusions,
    PregreetAction PregreetAction, TimeSpan PregreetWait)
{
    /// <summary>Reads the settings; unknown values fall back to the Postfix default (normalize, 550, ignore).</summary>
    /// <param name="myNetworks">The snapshot's mynetworks, used while smtpd_forbid_bare_newline_exclusions is not set
    /// (its default is $mynetworks).</param>
    public static SmtpdProtocolSettings From(ConfigSnapshot cfg, NetworkList myNetworks)
    {
        BareNewlineModes.TryParse(cfg.Get("smtpd_forbid_bare_newline"), out var mode);
        long code = cfg.GetNumber("smtpd_forbid_bare_newline_reject_code");
        // postconf(5): "Specify a 5XX status code (521 to disconnect)".
        short rejectCode = code is >= 400 and <= 599 ? (short)code : (short)550;
        var exclusions = myNetworks;
        if (cfg.IsSet("smtpd_forbid_bare_newline_exclusions")
            && !NetworkList.TryParse(cfg.Get("smtpd_forbid_bare_newline_exclusions"), cfg.TableOptions, out exclusions, out _))
            exclusions = NetworkList.Empty;   // a broken list protects everybody rather than nobody
        PregreetActions.TryParse(cfg.Get("posthorn_pregreet_action"), out var action);
        return new SmtpdProtocolSettings(mode, rejectCode, exclusions, action, cfg.GetTime("posthorn_pregreet_wait"));
    }

    /// <summary>Whether <paramref name="client"/> keeps the old bare-LF behaviour (smtpd_forbid_bare_newline = no).</summary>
    public bool AllowsBareLf(IPAddress client) => BareNewline == BareNewlineMode.No || Exclusions.Contains(client);
}
