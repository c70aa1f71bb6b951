using Kaze.Http.Protocol;

namespace Kaze.Http.Flow;

/// <summary>
/// The flow-control window this gateway grants per body: <c>http:window</c> while few bodies are
/// open, shrinking towards one chunk as more are (<c>http:bufferBudget</c> shared among them), so a
/// single transfer gets a wide window (MB/s are window / round trip) and many at once cannot make
/// the gateway hold more than the budget (plus one window: an open body keeps what it was granted
/// before others opened).
/// </summary>
internal sealed class WindowBudget
{
    private readonly int _window;
    private readonly long _budget;
    private int _open;

    public WindowBudget(int window, long budget)
    {
        _window = window;
        _budget = budget;
    }

    /// <summary>Bodies being received now.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>The window for one body now: the budget shared among the open bodies, at least one chunk (or <c>http:window</c> when smaller), at most <c>http:window</c>.</summary>
    public int Current
    {
        get
        {
            long share = _budget / Math.Max(1, Volatile.Read(ref _open));
            long floor = Math.Min(_window, HttpLimits.ChunkSize);
            return (int)Math.Clamp(share, floor, _window);
        }
    }

    public void Enter() => Interlocked.Increment(ref _open);

    public void Leave() => Interlocked.Decrement(ref _open);
}
