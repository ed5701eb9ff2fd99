using System.Diagnostics;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>Polls a condition against a deadline; the only way tests wait (never a bare sleep as synchronisation).</summary>
public static class Wait
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, what, diagnostics);

    /// <summary>Returns as soon as <paramref name="condition"/> is true; throws <see cref="WaitTimeoutException"/>
    /// naming <paramref name="what"/> (plus <paramref name="diagnostics"/>) when the deadline passes first.
    /// An exception thrown by the condition ends the wait at once.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition()) return;
            if (clock.Elapsed >= timeout)
            {
                // One last look: the condition may have become true while we were deciding to give up.
                if (await condition()) return;
                string extra = diagnostics is null ? "" : Environment.NewLine + diagnostics();
                throw new WaitTimeoutException($"timed out after {timeout.TotalSeconds:0.#} s waiting for: {what}{extra}");
            }
            await Task.Delay(Interval);
        }
    }

    /// <summary>Polls <paramref name="probe"/> until it yields a non-null value and returns that value.</summary>
    public static async Task<T> ForAsync<T>(Func<T?> probe, TimeSpan timeout, string what, Func<string>? diagnostics = null) where T : class
    {
        T? found = null;
        await UntilAsync(() => (found = probe()) is not null, timeout, what, diagnostics);
        return found!;
    }
}

public sealed class WaitTimeoutException(string message) : Exception(message);
