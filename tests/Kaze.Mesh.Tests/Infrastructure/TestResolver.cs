using System.Collections.Concurrent;
using System.Net;
using Kaze.Protocol;
using Kaze.Resolver;

namespace Kaze.Mesh.Tests.Infrastructure;

/// <summary>
/// A resolver backed by a dictionary. With a gate, every lookup waits until the gate opens: the
/// test decides when dials may proceed (all packets queued first, or two sides dialling at once).
/// </summary>
internal sealed class TestResolver : IResolver
{
    private readonly ConcurrentDictionary<Ident, NodeAddress> _addresses = new();
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _openAfterLookups;
    private int _lookups;

    /// <param name="openAfterLookups">
    /// 0: no gate. N: lookups wait until N lookups have been made (or <see cref="Open"/> is called).
    /// </param>
    public TestResolver(int openAfterLookups = 0)
    {
        _openAfterLookups = openAfterLookups;
        if (openAfterLookups == 0)
        {
            _gate.SetResult();
        }
    }

    public int Lookups => Volatile.Read(ref _lookups);

    public void Set(Ident ident, IPEndPoint endPoint) => _addresses[ident] = new NodeAddress(endPoint.Address.ToString(), endPoint.Port);

    public void Set(Ident ident, NodeAddress address) => _addresses[ident] = address;

    public void Open() => _gate.TrySetResult();

    public async ValueTask<NodeAddress?> ResolveAsync(Ident ident, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Increment(ref _lookups) >= _openAfterLookups && _openAfterLookups > 0)
        {
            _gate.TrySetResult();
        }

        await _gate.Task.WaitAsync(cancellationToken);
        return _addresses.TryGetValue(ident, out NodeAddress address) ? address : null;
    }

    public ValueTask<IReadOnlyList<Ident>> MatchAsync(Ident ident, uint mask, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyList<Ident>>(_addresses.Keys.Where(k => k.Matches(ident, mask)).Order().ToList());
}
