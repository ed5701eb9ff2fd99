using Posthorn.Fuzz;
using SharpFuzz;

// Posthorn.Fuzz TARGET             run under afl-fuzz (persistent mode; AFL feeds the input file)
// Posthorn.Fuzz TARGET FILE...     replay files once each, printing the outcome (triage, no AFL needed)
// Posthorn.Fuzz --list             the target names
var scratch = Directory.CreateTempSubdirectory("posthorn-fuzz-");
try
{
    if (args.Length == 0 || args[0] == "--list")
    {
        Console.WriteLine(string.Join('\n', FuzzTargets.Names.Order(StringComparer.Ordinal)));
        return args.Length == 0 ? 2 : 0;
    }
    string name = args[0];
    if (!FuzzTargets.Names.Contains(name))
    {
        Console.Error.WriteLine($"Posthorn.Fuzz: unknown target {name}; --list shows them");
        return 2;
    }
    if (args.Length > 1)
    {
        var targets = new FuzzTargets(scratch.FullName);
        int failed = 0;
        foreach (string file in args[1..])
        {
            try
            {
                targets.Run(name, File.ReadAllBytes(file));
                Console.WriteLine($"ok      {file}");
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine($"CRASH   {file}\n{e}");
            }
        }
        return failed == 0 ? 0 : 1;
    }
    // SharpFuzz: instrumented code must not run before Fuzzer.Run has mapped AFL's coverage memory, so the
    // targets (whose constructor runs Posthorn code) are made inside the loop.
    FuzzTargets? fuzzing = null;
    Fuzzer.Run(stream =>
    {
        fuzzing ??= new FuzzTargets(scratch.FullName);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        fuzzing.Run(name, buffer.ToArray());
    });
    return 0;
}
finally
{
    try
    {
        scratch.Delete(recursive: true);
    }
    catch (IOException)
    {
        // Left behind in the temp directory; nothing depends on it.
    }
}
