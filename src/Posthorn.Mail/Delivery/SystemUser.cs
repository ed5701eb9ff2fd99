namespace Posthorn.Mail.Delivery;

/// <summary>One account as getpwnam(3) returns it.</summary>
public sealed record SystemUser(string Name, int Uid, int Gid, string Home, string Shell);

/// <summary>Looks up local accounts by name (Postfix's <c>unix:passwd.byname</c>).</summary>
/// <remarks>The lookup is case-sensitive; callers fold the local part to lower case first, as
/// Postfix local(8) does, so an account with upper-case letters in its name gets no mail.</remarks>
public interface IUserDatabase
{
    bool TryGetUser(string name, out SystemUser user);

    /// <summary>getpwuid(3): the account with this uid (the owner of an alias map or :include:
    /// file). Databases that cannot answer say false, and callers use the file's own group.</summary>
    bool TryGetUserById(int uid, out SystemUser user)
    {
        user = null!;
        return false;
    }
}
