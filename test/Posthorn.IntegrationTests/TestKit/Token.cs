namespace Posthorn.IntegrationTests.TestKit;

/// <summary>Unique markers, so a test finds its own message in a mailbox or log.</summary>
public static class Token
{
    /// <summary>A lowercase alphanumeric marker, e.g. <c>t3f9a0c21b7e4</c> (safe in addresses and alias names).</summary>
    public static string New() => "t" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A minimal message: header fields then an empty line and the body, lines separated by "\n".</summary>
    public static string Message(string subject, string body, string from = "Alice <alice@sender.example>", string? to = null) =>
        $"From: {from}\nTo: {to ?? TestConfig.User + "@" + TestConfig.Myhostname}\nSubject: {subject}\n\n{body}\n";
}
