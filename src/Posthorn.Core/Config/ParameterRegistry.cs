using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Posthorn.Config;

/// <summary>Every main.cf parameter Posthorn knows, each declared once with its type and default (Postfix mail_params.h).</summary>
/// <remarks><c>postconf -d</c>, <c>postconf -n</c>, <c>postfix check</c> and the services read this one table.
/// The table itself is in ParameterRegistry.Table.cs, grouped the way postconf(5) groups the programs.</remarks>
public static partial class ParameterRegistry
{
    /// <summary>All parameters by name.</summary>
    public static IReadOnlyDictionary<string, Parameter> All { get; } = Build();

    /// <summary>Finds a parameter by its exact name.</summary>
    public static bool TryGet(string name, [MaybeNullWhen(false)] out Parameter p) => All.TryGetValue(name, out p);

    private static FrozenDictionary<string, Parameter> Build()
    {
        var d = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        foreach (var p in Table())
            d.Add(p.Name, p);
        return d.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static Parameter Text(string n, string d, string doc) => new(n, ParameterKind.Text, d, doc);
    private static Parameter Num(string n, string d, string doc) => new(n, ParameterKind.Number, d, doc);
    private static Parameter Time(string n, string d, string doc) => new(n, ParameterKind.Time, d, doc);
    private static Parameter Size(string n, string d, string doc) => new(n, ParameterKind.Size, d, doc);
    private static Parameter Bool(string n, string d, string doc) => new(n, ParameterKind.Bool, d, doc);
    private static Parameter List(string n, string d, string doc) => new(n, ParameterKind.List, d, doc);
    private static Parameter Maps(string n, string d, string doc) => new(n, ParameterKind.TableList, d, doc);
}
