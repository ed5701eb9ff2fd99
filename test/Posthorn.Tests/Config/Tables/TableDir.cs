namespace Posthorn.Tests.Config.Tables;

/// <summary>A temporary directory for table files.</summary>
internal sealed class TableDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("posthorn-tables-").FullName;

    public string Write(string name, string text)
    {
        string p = System.IO.Path.Combine(Path, name);
        File.WriteAllText(p, text);
        return p;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
