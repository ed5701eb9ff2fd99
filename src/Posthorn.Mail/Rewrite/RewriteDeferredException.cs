namespace Posthorn.Mail.Rewrite;

/// <summary>Rewriting could not finish (a table failed, or a map nested or expanded beyond its limit): the
/// message is not accepted now and the client tries again (Postfix: "message not accepted, try again later").</summary>
/// <remarks><see cref="Exception.Message"/> is Postfix's warning text without the queue ID, for example
/// <c>unreasonable virtual_alias_maps map nesting for a@example.com -- message not accepted, try again later</c>.</remarks>
public sealed class RewriteDeferredException(string message) : Exception(message);
