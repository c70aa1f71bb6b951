using Xunit.Sdk;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>
/// The lines of one output stream of a process, read as they come. Waiting for a line is event
/// driven (each new line wakes the waiters), never a poll.
/// </summary>
internal sealed class OutputLines
{
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Set under _gate when the stream has ended, before the last wake.
    private bool _ended;

    public OutputLines(string name, StreamReader reader)
    {
        Name = name;
        Completion = Task.Run(() => ReadAsync(reader));
    }

    /// <summary>"stdout" or "stderr", for messages.</summary>
    public string Name { get; }

    /// <summary>Completes at end of stream: every process holding its write end has exited.</summary>
    public Task Completion { get; }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public string Text => string.Join('\n', Lines);

    /// <summary>Waits for the first line that matches; fails naming <paramref name="what"/> and showing the stream so far.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? Deadline.Long;
        using var cts = new CancellationTokenSource(limit);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                string? found = _lines.FirstOrDefault(match);
                if (found is not null)
                {
                    return found;
                }

                if (_ended)
                {
                    throw new XunitException($"{Name} ended before {what}. {Name}:\n{string.Join('\n', _lines)}");
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new XunitException($"Timed out after {limit.TotalSeconds:0.###} s waiting for {what} on {Name}. {Name} so far:\n{Text}");
            }
        }
    }

    private async Task ReadAsync(StreamReader reader)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                Add(line);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The process object was disposed under us: the stream ends here.
        }
        finally
        {
            lock (_gate)
            {
                _ended = true;
            }

            Wake();
        }
    }

    private void Add(string line)
    {
        lock (_gate)
        {
            _lines.Add(line);
        }

        Wake();
    }

    private void Wake()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
