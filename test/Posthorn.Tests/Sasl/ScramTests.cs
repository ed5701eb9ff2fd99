using System.Text;
using Posthorn.Sasl;
using Xunit;

namespace Posthorn.Tests.Sasl;

/// <summary>The SCRAM server exchange against the worked examples of RFC 5802 §5 (SHA-1) and RFC 7677 §3 (SHA-256),
/// and the ways a client-first or client-final can be wrong.</summary>
public sealed class ScramTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    public static TheoryData<ScramHash, string, string, string, string, string> RfcExamples => new()
    {
        // RFC 5802 §5
        { ScramHash.Sha1, "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92",
          "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
          "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=" },
        // RFC 7677 §3
        { ScramHash.Sha256, "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "W22ZaJ0SNY7soEsUEjb6gQ==",
          "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
          "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" },
    };

    [Theory]
    [MemberData(nameof(RfcExamples))]
    public void The_rfc_example_exchange_verifies_and_gives_the_rfc_server_signature(
        ScramHash hash, string clientNonce, string serverNonce, string salt, string clientFinal, string serverSignature)
    {
        var credentials = ScramCredentials.FromPassword(hash, "pencil", Convert.FromBase64String(salt), 4096);
        var exchange = new ScramServerExchange(hash, serverNonce);

        Assert.True(exchange.TryReadClientFirst(B($"n,,n=user,r={clientNonce}")));
        Assert.Equal("user", exchange.User);
        Assert.Equal($"r={clientNonce}{serverNonce},s={salt},i=4096", exchange.ServerFirst(credentials));
        Assert.True(exchange.TryVerifyClientFinal(B(clientFinal), out string serverFinal));
        Assert.Equal(serverSignature, serverFinal);
    }

    [Theory]
    [MemberData(nameof(RfcExamples))]
    public void A_wrong_password_or_a_changed_proof_fails(
        ScramHash hash, string clientNonce, string serverNonce, string salt, string clientFinal, string _)
    {
        var wrong = ScramCredentials.FromPassword(hash, "pencil2", Convert.FromBase64String(salt), 4096);
        var exchange = new ScramServerExchange(hash, serverNonce);
        Assert.True(exchange.TryReadClientFirst(B($"n,,n=user,r={clientNonce}")));
        exchange.ServerFirst(wrong);
        Assert.False(exchange.TryVerifyClientFinal(B(clientFinal), out string serverFinal));
        Assert.Equal("", serverFinal);

        var right = ScramCredentials.FromPassword(hash, "pencil", Convert.FromBase64String(salt), 4096);
        var again = new ScramServerExchange(hash, serverNonce);
        Assert.True(again.TryReadClientFirst(B($"n,,n=user,r={clientNonce}")));
        again.ServerFirst(right);
        // Another nonce (a replayed final message from another exchange) fails too.
        Assert.False(again.TryVerifyClientFinal(B(clientFinal.Replace(serverNonce, serverNonce + "x", StringComparison.Ordinal)), out _));
    }

    [Theory]
    [InlineData("p=tls-unique,,n=user,r=abc")]  // channel binding asked for: the -PLUS mechanisms are not offered
    [InlineData("n,,m=ext,n=user,r=abc")]       // reserved-mext
    [InlineData("n,,n=,r=abc")]                 // empty user
    [InlineData("n,,n=us=41er,r=abc")]          // "=" not followed by 2C or 3D
    [InlineData("n,,n=user,r=")]                // empty nonce
    [InlineData("n,,n=user")]                   // no nonce
    [InlineData("n,a=bob,n=user,r=abc")]        // authorization as somebody else
    [InlineData("x,,n=user,r=abc")]
    [InlineData("n,,n=user,r=a\u0001b")]
    [InlineData("")]
    public void Malformed_client_first_messages_are_refused(string message) =>
        Assert.False(new ScramServerExchange(ScramHash.Sha256).TryReadClientFirst(B(message)));

    [Fact]
    public void Saslname_escapes_and_an_authzid_naming_the_user_itself_are_read()
    {
        var exchange = new ScramServerExchange(ScramHash.Sha256);
        Assert.True(exchange.TryReadClientFirst(B("y,a=a=2Cb=3Dc,n=a=2Cb=3Dc,r=nonce")));
        Assert.Equal("a,b=c", exchange.User);
    }

    [Fact]
    public void Stored_credentials_round_trip_through_dovecots_form()
    {
        var credentials = ScramCredentials.FromPassword(ScramHash.Sha256, "pencil", Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ=="));
        string text = credentials.ToString();
        Assert.StartsWith("4096,W22ZaJ0SNY7soEsUEjb6gQ==,", text);
        Assert.True(ScramCredentials.TryParse(ScramHash.Sha256, text, out var parsed));
        Assert.Equal(credentials.StoredKey, parsed!.StoredKey);
        Assert.Equal(credentials.ServerKey, parsed.ServerKey);
        Assert.False(ScramCredentials.TryParse(ScramHash.Sha1, text, out _));          // key lengths of SHA-256
        Assert.False(ScramCredentials.TryParse(ScramHash.Sha256, "4096,abc", out _));
        Assert.False(ScramCredentials.TryParse(ScramHash.Sha256, "x,AA==,AA==,AA==", out _));
        Assert.False(ScramCredentials.TryParse(ScramHash.Sha256, "4096,!!,AA==,AA==", out _));
    }
}
