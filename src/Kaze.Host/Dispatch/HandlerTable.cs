using Kaze.Protocol;

namespace Kaze.Host.Dispatch;

/// <summary>
/// Handlers by body type. Reads (one per incoming packet, on the reader thread) take no lock: the
/// table is an immutable snapshot swapped through one volatile field; changes copy it under a lock.
/// </summary>
internal sealed class HandlerTable
{
    private readonly Lock _writeLock = new();
    private volatile Dictionary<string, Func<KazeRequest, CancellationToken, ValueTask<KazeReply>>> _handlers = new(StringComparer.Ordinal);

    public Func<KazeRequest, CancellationToken, ValueTask<KazeReply>>? Find(string bodyType) =>
        _handlers.TryGetValue(bodyType, out var handler) ? handler : null;

    public void Add(string bodyType, Func<KazeRequest, CancellationToken, ValueTask<KazeReply>> handler)
    {
        ArgumentNullException.ThrowIfNull(bodyType);
        ArgumentNullException.ThrowIfNull(handler);
        if (bodyType == ControlBodyTypes.Exit)
        {
            throw new ArgumentException($"'{ControlBodyTypes.Exit}' is the sidecar's exit request; watch KazeClient.ExitRequested instead.", nameof(bodyType));
        }

        lock (_writeLock)
        {
            if (_handlers.ContainsKey(bodyType))
            {
                throw new InvalidOperationException($"A handler for body type '{bodyType}' is already registered; remove it first.");
            }

            _handlers = new Dictionary<string, Func<KazeRequest, CancellationToken, ValueTask<KazeReply>>>(_handlers, StringComparer.Ordinal)
            {
                [bodyType] = handler,
            };
        }
    }

    public bool Remove(string bodyType)
    {
        ArgumentNullException.ThrowIfNull(bodyType);
        lock (_writeLock)
        {
            if (!_handlers.ContainsKey(bodyType))
            {
                return false;
            }

            var copy = new Dictionary<string, Func<KazeRequest, CancellationToken, ValueTask<KazeReply>>>(_handlers, StringComparer.Ordinal);
            copy.Remove(bodyType);
            _handlers = copy;
            return true;
        }
    }
}
