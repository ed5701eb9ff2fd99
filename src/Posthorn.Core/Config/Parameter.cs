namespace Posthorn.Config;

/// <summary>The type of a main.cf parameter, which decides how its value is read (postconf(5)).</summary>
public enum ParameterKind
{
    /// <summary>Free text.</summary>
    Text,
    /// <summary>A whole number.</summary>
    Number,
    /// <summary>A time: a number with an optional unit s, m, h, d or w; the default's unit when none is given.</summary>
    Time,
    /// <summary>A size in bytes.</summary>
    Size,
    /// <summary><c>yes</c> or <c>no</c>.</summary>
    Bool,
    /// <summary>A list separated by commas and/or white space.</summary>
    List,
    /// <summary>A list of lookup tables (<c>type:name</c>).</summary>
    TableList,
}

/// <summary>One main.cf parameter as postconf(5) declares it: name, type, default, one line of documentation.</summary>
/// <param name="Default">The default value. It may be an expression such as <c>$myhostname</c>; for
/// <see cref="Computed"/> parameters it is empty and the configuration computes the value.</param>
public sealed record Parameter(string Name, ParameterKind Kind, string Default, string Description)
{
    /// <summary>The default is computed from the machine or the configuration (myhostname, mydomain, mynetworks, config_directory).</summary>
    public bool Computed { get; init; }

    /// <summary>The value is expanded at use time by the program that reads it, with its own attributes
    /// (for example <c>$home</c> in <c>forward_path</c>), never by the configuration (Postfix "raw" parameters).</summary>
    public bool Raw { get; init; }

    /// <summary>For <see cref="ParameterKind.Time"/>: the unit a bare number has, the unit of the default.</summary>
    public char DefaultTimeUnit => Kind == ParameterKind.Time && Default.Length > 0 && char.IsLetter(Default[^1]) ? Default[^1] : 's';
}
