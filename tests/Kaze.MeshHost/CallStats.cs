using System.Globalization;
using Kaze.Host;
using Kaze.Protocol;

namespace Kaze.MeshHost;

/// <summary>What a series of calls got back: codes, who answered, bodies that came back wrong, the slowest call.</summary>
internal sealed class CallStats
{
    private readonly Lock _gate = new();
    private readonly SortedDictionary<RetCode, int> _codes = [];
    private readonly SortedDictionary<uint, int> _sources = [];
    private int _calls;
    private int _mismatches;
    private double _maxMilliseconds;

    public void Add(in KazeResponse response, bool bodyIntact, double milliseconds)
    {
        lock (_gate)
        {
            _calls++;
            _codes[response.Code] = _codes.GetValueOrDefault(response.Code) + 1;
            if (!response.IsLocal)
            {
                _sources[response.Source.Value] = _sources.GetValueOrDefault(response.Source.Value) + 1;
            }

            if (response.IsOk && !bodyIntact)
            {
                _mismatches++;
            }

            _maxMilliseconds = Math.Max(_maxMilliseconds, milliseconds);
        }
    }

    /// <summary>"calls=N ok=N failed=N codes=Ok:N,... sources=0.0.1.2:N,... mismatches=N max_ms=X".</summary>
    public string Describe()
    {
        lock (_gate)
        {
            int ok = _codes.GetValueOrDefault(RetCode.Ok);
            string codes = _codes.Count == 0 ? "none" : string.Join(',', _codes.Select(c => $"{c.Key}:{c.Value}"));
            string sources = _sources.Count == 0 ? "none" : string.Join(',', _sources.Select(s => $"{new Ident(s.Key)}:{s.Value}"));
            return string.Create(CultureInfo.InvariantCulture, $"calls={_calls} ok={ok} failed={_calls - ok} codes={codes} sources={sources} mismatches={_mismatches} max_ms={_maxMilliseconds:0.0}");
        }
    }
}
