namespace Posthorn.Daemon.Qmgr;

/// <summary>Postfix qmgr(8)'s per-destination concurrency for the asynchronous transports (smtp, lmtp): at most
/// <c>transport_destination_concurrency_limit</c> deliveries at once per transport and next hop. local(8)'s, whose
/// destination is the recipient and whose deliveries run on the delivery threads, is
/// <see cref="Posthorn.Mail.Delivery.DeliveryLanes"/>, which keeps the waiting deliveries there.</summary>
/// <remarks>A window exists while some delivery holds or waits for it, so that destinations seen once (every
/// user+extension address of a busy site) do not stay in memory. Its limit is taken when it is made: a reload
/// applies to the windows made after it. DEVIATION: the limit is fixed (Postfix starts a destination at
/// initial_destination_concurrency and adjusts it by feedback).</remarks>
internal sealed class DestinationWindows
{
    private readonly Dictionary<string, Window> _windows = new(StringComparer.OrdinalIgnoreCase);

    internal sealed class Window(int limit)
    {
        public readonly SemaphoreSlim Slots = new(limit);
        public int Users;   // holding or waiting, under the dictionary's lock
    }

    /// <summary>A slot of one destination's window, given back by <see cref="Dispose"/>.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly DestinationWindows _owner;
        private readonly string _key;
        private readonly Window _window;
        private bool _released;

        internal Lease(DestinationWindows owner, string key, Window window) => (_owner, _key, _window) = (owner, key, window);

        /// <summary>Other deliveries to the same destination hold or wait for a slot now (Postfix's
        /// smtp_connection_cache_on_demand looks at this backlog).</summary>
        public bool Backlog
        {
            get { lock (_owner._windows) return _window.Users > 1; }
        }

        public void Dispose()
        {
            if (_released) return;
            _released = true;
            _owner.Leave(_key, _window, release: true);
        }
    }

    /// <summary>Waits for a slot of the window of <paramref name="key"/>, made with <paramref name="limit"/> slots when no
    /// delivery to it is under way (0: no limit, as qmgr(8) reads a zero destination_concurrency_limit).</summary>
    public async ValueTask<Lease> EnterAsync(string key, int limit, CancellationToken ct)
    {
        Window window;
        lock (_windows)
        {
            if (!_windows.TryGetValue(key, out window!)) _windows[key] = window = new Window(limit > 0 ? limit : int.MaxValue);
            window.Users++;
        }
        try
        {
            await window.Slots.WaitAsync(ct);
        }
        catch
        {
            Leave(key, window, release: false);
            throw;
        }
        return new Lease(this, key, window);
    }

    /// <summary>Windows in use (held or waited for).</summary>
    public int Count
    {
        get { lock (_windows) return _windows.Count; }
    }

    private void Leave(string key, Window window, bool release)
    {
        if (release) window.Slots.Release();
        lock (_windows)
        {
            if (--window.Users == 0) _windows.Remove(key);
        }
    }
}
