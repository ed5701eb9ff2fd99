namespace Posthorn.Mail.Delivery;

/// <summary>Postfix sys_exits(3): what a command's sendmail-style exit status (sysexits.h)
/// means for the delivery: the RFC 3463 status, the text, and whether to try again.</summary>
internal static class SysExits
{
    /// <summary>sysexits.h EX__BASE .. EX__MAX.</summary>
    public const int Base = 64, Max = 78, TempFail = 75;

    private static readonly (string Dsn, string Text)[] Table =
    [
        ("5.3.0", "command line usage error"),       // 64 EX_USAGE
        ("5.6.0", "data format error"),              // 65 EX_DATAERR
        ("5.3.0", "cannot open input"),              // 66 EX_NOINPUT
        ("5.1.1", "user unknown"),                   // 67 EX_NOUSER
        ("5.1.2", "host name unknown"),              // 68 EX_NOHOST
        ("5.3.0", "service unavailable"),            // 69 EX_UNAVAILABLE
        ("5.3.0", "internal software error"),        // 70 EX_SOFTWARE
        ("4.3.0", "system resource problem"),        // 71 EX_OSERR
        ("5.3.0", "critical OS file missing"),       // 72 EX_OSFILE
        ("5.2.0", "can't create user output file"),  // 73 EX_CANTCREAT
        ("5.3.0", "input/output error"),             // 74 EX_IOERR
        ("4.3.0", "temporary failure"),              // 75 EX_TEMPFAIL
        ("5.5.0", "remote error in protocol"),       // 76 EX_PROTOCOL
        ("5.7.0", "permission denied"),              // 77 EX_NOPERM
        ("5.3.5", "local configuration error"),      // 78 EX_CONFIG
    ];

    public static bool IsSysExit(int status) => status is >= Base and <= Max;

    /// <summary>The table entry of a sysexits.h status; other values are not looked up.</summary>
    public static (string Dsn, string Text) Detail(int status) => Table[status - Base];

    /// <summary>Postfix sys_exits_softerror(): a 4.x.x status is tried again later.</summary>
    public static bool IsSoft(int status) => IsSysExit(status) && Detail(status).Dsn[0] == '4';
}
